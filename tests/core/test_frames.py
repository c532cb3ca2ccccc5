"""Frame-grid arithmetic against known values of the HuBERT/wav2vec 2.0 base conv stack."""

import numpy as np
import pytest

from speechneurons.frames import FrameGrid, num_frames


def test_base_grid_hop_and_receptive_field():
    grid = FrameGrid()
    assert grid.hop == 320
    assert grid.receptive_field == 400
    assert grid.frame_shift_s == pytest.approx(0.02)
    assert grid.frame_length_s == pytest.approx(0.025)


@pytest.mark.parametrize(
    "samples, frames",
    [(0, 0), (399, 0), (400, 1), (719, 1), (720, 2), (16000, 49), (16001, 49), (32000, 99)],
)
def test_num_frames_known_values(samples, frames):
    assert FrameGrid().num_frames(samples) == frames


def test_num_frames_matches_closed_form_for_base_stack():
    # For the base stack, frames = floor((L - 400) / 320) + 1 whenever L >= 400.
    grid = FrameGrid()
    for n in range(400, 20000, 37):
        assert grid.num_frames(n) == (n - 400) // 320 + 1


def test_frame_times():
    grid = FrameGrid()
    np.testing.assert_allclose(grid.frame_starts(3), [0.0, 0.02, 0.04])
    np.testing.assert_allclose(grid.frame_centres(3), [0.0125, 0.0325, 0.0525])


def test_single_conv_layer():
    assert num_frames(10, [4], [2]) == 4


def test_mismatched_stack_is_rejected():
    with pytest.raises(ValueError):
        FrameGrid((10, 3), (5,))
