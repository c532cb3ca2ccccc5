"""Frame targets: MFCC + deltas on the model frame grid, k-means labels, layer targets."""

import numpy as np
import pytest

from speechneurons.frames import FrameGrid
from speechneurons.model import targets as T

GRID = FrameGrid()


def _speechy(n_samples: int, seed: int = 0) -> np.ndarray:
    """A signal whose spectrum changes over time (chirps + noise bursts)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_samples) / 16000
    f = 200 + 1500 * (0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    x = 0.3 * np.sin(2 * np.pi * np.cumsum(f) / 16000) + 0.05 * rng.standard_normal(n_samples) * (np.sin(7 * t) > 0)
    return x.astype(np.float32)


def test_deltas_of_a_ramp_are_its_slope():
    c = np.arange(20, dtype=np.float32)[:, None] * np.array([[1.0, -2.0]], dtype=np.float32)
    d = T.deltas(c, window=2)
    np.testing.assert_allclose(d[2:-2], np.tile([[1.0, -2.0]], (16, 1)), rtol=1e-6)
    # edges repeat the first/last frame: d_0 = (1*(c1-c0) + 2*(c2-c0)) / 10 = 0.5 * slope
    np.testing.assert_allclose(d[0], [0.5, -1.0], rtol=1e-6)


def test_cmvn_gives_zero_mean_unit_variance():
    x = np.random.default_rng(0).normal(3, 5, size=(200, 4)).astype(np.float32)
    y = T.cmvn(x)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-3)


@pytest.mark.parametrize("n_samples", [400, 401, 719, 720, 16000, 33333])
def test_one_feature_row_per_model_frame(n_samples):
    feats = T.mfcc_features(_speechy(n_samples), GRID)
    assert feats.shape == (GRID.num_frames(n_samples), 39)
    assert np.isfinite(feats).all()


def test_other_conv_stack_gives_its_own_frame_count():
    grid = FrameGrid((10, 3, 3), (5, 2, 2), 16000)  # hop 20 samples
    assert T.mfcc_features(_speechy(8000), grid).shape[0] == grid.num_frames(8000)


def test_shorter_than_one_frame_gives_no_rows():
    assert T.mfcc_features(_speechy(300), GRID).shape == (0, 39)


def test_mfcc_targets_one_label_per_frame_and_deterministic():
    waves = [_speechy(n, s) for s, n in enumerate([16000, 24000, 9000, 30000])]
    labels, centres, info = T.mfcc_targets(waves, GRID, n_clusters=8, seed=0)
    assert [len(l) for l in labels] == [GRID.num_frames(len(w)) for w in waves]
    assert all(l.min() >= 0 and l.max() < 8 for l in labels)
    assert info["chance"] == pytest.approx(1 / 8) and info["n_frames"] == sum(map(len, labels))
    assert centres.shape == (8, 39)
    again, _, _ = T.mfcc_targets(waves, GRID, n_clusters=8, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(labels, again))


def test_held_out_utterances_are_assigned_but_never_fitted():
    waves = [_speechy(n, s) for s, n in enumerate([16000, 24000, 9000, 30000])]
    fit = [True, True, True, False]
    labels, centres, info = T.mfcc_targets(waves, GRID, n_clusters=8, seed=0, fit=fit)
    alone, _, _ = T.mfcc_targets(waves[:3], GRID, n_clusters=8, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(labels[:3], alone))  # the held-out one changed nothing
    feats = T.mfcc_features(waves[3], GRID)
    nearest = ((feats[:, None, :] - centres[None]) ** 2).sum(-1).argmin(1)
    np.testing.assert_array_equal(labels[3], nearest)
    assert info["n_fit_utterances"] == 3 and info["n_frames"] == sum(map(len, labels[:3]))


def test_targets_table_round_trip():
    labels = [np.array([3, 1, 2]), np.array([0, 0])]
    df = T.targets_table(["b", "a"], labels)
    assert list(df.columns) == ["utt_id", "frame", "target"] and len(df) == 5
    back = T.targets_from_table(df.sample(frac=1, random_state=0))
    np.testing.assert_array_equal(back["b"], [3, 1, 2])
    np.testing.assert_array_equal(back["a"], [0, 0])


def test_cluster_stats_known_answer():
    st = T.cluster_stats([np.array([0, 0, 1]), np.array([0, 2])], 4)
    assert st["majority_rate"] == pytest.approx(3 / 5)
    assert st["chance"] == 0.25 and st["clusters_used"] == 3


def test_layer_targets_one_label_per_frame():
    from speechneurons.model.hubert import build_model
    from tests.model.test_pretrain import TINY

    model = build_model(TINY, GRID, seed=0)
    waves = [_speechy(n, s) for s, n in enumerate([8000, 12000, 6400])]
    labels, _, info = T.layer_targets(model, waves, GRID, layer=1, n_clusters=4, seed=0)
    assert [len(l) for l in labels] == [GRID.num_frames(len(w)) for w in waves]
    assert info["source"] == "layer-1"
    with pytest.raises(ValueError, match="out of range"):
        T.layer_targets(model, waves, GRID, layer=9, n_clusters=4, seed=0)


def test_load_wave_resamples_and_downmixes(tmp_path):
    import soundfile as sf

    x = np.stack([_speechy(8000), _speechy(8000, 1)], axis=1)
    sf.write(tmp_path / "a.wav", x, 8000)
    try:
        w = T.load_wave(tmp_path / "a.wav", 16000)
    except Exception as exc:  # the corpus loader refuses other rates/channels by design
        assert "a.wav" in str(exc)
    else:
        assert abs(len(w) - 16000) <= 1 and w.ndim == 1
