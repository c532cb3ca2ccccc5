"""Frame labels on hand-made alignments with known answers, and the frame count against a
real forward pass of a tiny HuBERT."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from speechneurons.align.frame_labels import assign_frames, build_frame_labels, label_frames, phone_tiling
from speechneurons.align.textgrid import write_alignment_textgrid
from speechneurons.audio import write_wav
from speechneurons.frames import FrameGrid

GRID = FrameGrid()  # hop 20 ms, frame 25 ms

# AH 0-50 ms, T 50-55 ms (shorter than a frame), S 55-100 ms (straddles frames 3 and 4),
# silence 100-120 ms, IY0 120-150 ms; the audio runs to 200 ms (trailing audio).
PHONES = [(0.0, 0.05, "AH1"), (0.05, 0.055, "T"), (0.055, 0.1, "S"), (0.1, 0.12, ""), (0.12, 0.15, "IY0")]
WORDS = [(0.0, 0.1, "bus"), (0.1, 0.12, ""), (0.12, 0.15, "e")]
N_SAMPLES = 3200  # 200 ms -> floor((3200 - 400) / 320) + 1 = 9 frames


def test_known_answer():
    n = GRID.num_frames(N_SAMPLES)
    assert n == 9
    lab = label_frames(PHONES, WORDS, n, GRID)
    # frame 2 [40, 65) ms: AH 10 ms, T 5 ms, S 10 ms -> tie goes to the earlier AH
    # frame 4 [80, 105): S 20 ms vs sil 5 ms; frame 5 [100, 125): sil 20 vs IY 5
    # frame 7 [140, 165): IY 10 ms vs trailing sil 15 ms
    assert list(lab.phone) == ["AH", "AH", "AH", "S", "S", "sil", "IY", "sil", "sil"]
    assert list(lab.word) == ["bus"] * 5 + ["", "e", "", ""]
    # middle frame = centre nearest the segment midpoint (frame centres 12.5, 32.5, 52.5, ... ms):
    # AH 0-50 (mid 25) -> 1; S 55-100 (mid 77.5, frames 3-4) -> 3; sil 5; IY 6;
    # trailing sil 150-185 (mid 167.5, frames 7-8) -> 8, not the earlier central frame 7
    assert list(np.flatnonzero(lab.is_mid)) == [1, 3, 5, 6, 8]
    assert lab.n_speech_segments == 4
    assert lab.n_speech_segments_without_frame == 1  # the 5 ms T


def test_tiling_fills_gaps_merges_silence_and_extends():
    s, e, labels = phone_tiling([(0.1, 0.2, "sp"), (0.2, 0.3, ""), (0.35, 0.4, "spn"), (0.4, 0.5, "K")], 0.7)
    assert labels == ["sil", "spn", "K", "sil"]
    np.testing.assert_allclose(s, [0.0, 0.35, 0.4, 0.5])
    np.testing.assert_allclose(e, [0.35, 0.4, 0.5, 0.7])


def test_tiling_rejects_bad_labels_and_overlaps():
    with pytest.raises(ValueError, match="not ARPAbet"):
        phone_tiling([(0.0, 0.1, "xx")], 0.2)
    with pytest.raises(ValueError, match="overlaps"):
        phone_tiling([(0.0, 0.1, "AA"), (0.05, 0.2, "B")], 0.2)


def test_assignment_matches_brute_force():
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.uniform(0, 3.0, 200))
    starts, ends = np.r_[0.0, cuts], np.r_[cuts, 3.1]
    n = GRID.num_frames(int(3.0 * 16000))
    got = assign_frames(starts, ends, n, GRID)
    a = np.arange(n) * 0.02
    ov = np.clip(np.minimum(a[:, None] + 0.025, ends) - np.maximum(a[:, None], starts), 0, None)
    np.testing.assert_array_equal(got, np.argmax(np.round(ov, 9), axis=1))
    assert np.all(np.diff(got) >= 0)


def test_no_frames():
    lab = label_frames(PHONES, WORDS, 0, GRID)
    assert len(lab.phone) == 0 and lab.n_speech_segments_without_frame == 4


def test_build_from_files(tmp_path):
    wav = tmp_path / "u1.wav"
    write_wav(wav, np.zeros(N_SAMPLES, dtype=np.float32), 16000)
    tgs = tmp_path / "tg"
    write_alignment_textgrid(tgs / "u1.TextGrid", 0.15, WORDS, PHONES)
    manifest = pd.DataFrame({"utt_id": ["u1", "u2", "u3"], "audio_path": [str(wav)] * 3})
    table, summary = build_frame_labels(manifest, tgs, GRID, failed=["u2"], on_bad_input="skip")
    assert list(table.columns) == ["utt_id", "frame", "phone", "word", "is_mid"]
    assert list(table.phone) == ["AH", "AH", "AH", "S", "S", "sil", "IY", "sil", "sil"]
    assert table.is_mid.dtype == bool and table.frame.tolist() == list(range(9))
    status = dict(zip(summary.utt_id, summary.status))
    assert status == {"u1": "labelled", "u2": "alignment_failed", "u3": "skipped"}
    from speechneurons.errors import BadInputError

    with pytest.raises(BadInputError, match="u3.TextGrid"):
        build_frame_labels(manifest, tgs, GRID, failed=["u2"], on_bad_input="error")


def test_frame_count_equals_hubert_forward():
    torch = pytest.importorskip("torch")
    from transformers import HubertConfig, HubertModel

    cfg = HubertConfig(
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        conv_dim=(8,) * 7,
        conv_kernel=GRID.conv_kernel,
        conv_stride=GRID.conv_stride,
        num_conv_pos_embeddings=8,
        num_conv_pos_embedding_groups=2,
    )
    model = HubertModel(cfg).eval()
    for n_samples in (400, 719, 720, 1039, 16001, 23457):
        with torch.no_grad():
            out = model(torch.randn(1, n_samples)).last_hidden_state
        assert out.shape[1] == GRID.num_frames(n_samples), n_samples
        assert len(label_frames(PHONES, WORDS, out.shape[1], GRID).phone) == out.shape[1]


def test_middle_frame_is_nearest_the_segment_midpoint_on_average():
    """On random segmentations the middle frame's centre is within half a frame shift of the
    segment midpoint whenever the midpoint lies inside the run, and unbiased on average."""
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.uniform(0, 6.0, 300))
    starts, ends = np.r_[0.0, cuts], np.r_[cuts, 6.1]
    n = GRID.num_frames(int(6.0 * 16000))
    phones = [(s, e, "AA") if i % 2 else (s, e, "B") for i, (s, e) in enumerate(zip(starts, ends))]
    lab = label_frames(phones, [], n, GRID)
    centres = GRID.frame_centres(n)
    mids_t = centres[lab.is_mid]
    seg = lab.segment[lab.is_mid]
    seg_mid = (starts[seg] + ends[seg]) / 2
    run_lo = np.array([centres[lab.segment == k].min() for k in seg])
    run_hi = np.array([centres[lab.segment == k].max() for k in seg])
    inside = (seg_mid >= run_lo) & (seg_mid <= run_hi)
    err = mids_t - seg_mid
    assert np.all(np.abs(err[inside]) <= GRID.frame_shift_s / 2 + 1e-9)
    assert abs(err[inside].mean()) < 0.002  # within 2 ms on average (the old rule: ~5 ms early)
