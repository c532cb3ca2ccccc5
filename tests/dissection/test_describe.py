import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection.describe import (
    frame_spectra,
    phone_items,
    quantile_bins,
    segment_acoustics,
    utterance_items,
)
from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from tests.helpers.dissection import make_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def items(corpus):
    return phone_items(corpus.index, corpus.frames, corpus.audio_paths, corpus.grid, 3, 3, corpus.pitch_frames)


def test_quantile_bins_are_tertiles_with_missing_values():
    b = quantile_bins(np.array([1.0, 2, 3, 4, 5, 6, np.nan]), 3)
    assert b.labels.tolist() == ["low", "low", "mid", "mid", "high", "high", None]
    np.testing.assert_allclose(b.edges, [2.6666667, 4.3333333])


def test_acoustics_of_known_signals():
    grid = FrameGrid()
    sr, n = 16000, 20
    t = np.arange((n - 1) * grid.hop + grid.receptive_field) / sr
    tone = 0.5 * np.sin(2 * np.pi * 500 * t)  # RMS 0.5 / sqrt(2) -> -9.03 dBFS
    noise = 0.1 * np.random.default_rng(0).standard_normal(len(t))
    seg = pd.DataFrame({"first_frame": [0, 10], "last_frame": [9, 19]})
    audio = np.where(np.arange(len(t)) < 10 * grid.hop, tone, noise)
    ac = segment_acoustics(seg, audio, grid)
    assert ac.rms_db[0] == pytest.approx(-9.03, abs=0.3)
    assert ac.centroid_hz[0] == pytest.approx(500, abs=60)
    assert ac.centroid_hz[1] == pytest.approx(4000, rel=0.1)  # white noise: centroid at sr/4
    assert ac.alpha_db[1] > 0 > ac.alpha_db[0]  # noise has a flat tilt, a 500 Hz tone a steep one
    ms, power = frame_spectra(audio, n, grid)
    assert ms.shape == (n,) and power.shape == (n, 257)


def test_phone_items_attributes(corpus, items):
    t = items.table
    assert len(t) == len(corpus.index)
    assert t["item_id"].tolist() == (corpus.index["utt_id"] + ":" + corpus.index["frame"].astype(str)).tolist()
    vowel, unvoiced = t["phone_type"] == "vowel", t["phone_type"] == "unvoiced_consonant"
    assert (t.loc[vowel, "voicing"] == "voiced").all() and (t.loc[unvoiced, "voicing"] == "unvoiced").all()
    assert (t.loc[t["loudness"] == "high", "phone_type"] == "vowel").all()  # vowels are the loud tones
    assert t.loc[vowel, "rms_db"].min() > t.loc[~vowel, "rms_db"].max()
    # noise is bright with a flat tilt (a frame window reaching into a loud vowel can pull one down)
    assert (t.loc[t["brightness"] == "high", "phone_type"] == "unvoiced_consonant").all()
    assert (t.loc[unvoiced, "tilt"] != "low").all() and (t.loc[unvoiced, "tilt"] == "high").mean() > 0.8
    assert t.loc[unvoiced, "pitch"].isna().all()
    assert set(t.loc[t["speaker"].isin(["f_a", "m_b"]) & ~unvoiced, "pitch"]) == {"high"}
    seat = t[(t["utt_id"] == "f_a-0000") & (t["word"] == "SEAT")]
    assert seat["phone"].tolist() == ["S", "IY", "T"]
    assert seat["word_position"].tolist() == ["initial", "medial", "final"]
    assert seat["prev_phone"].tolist() == ["sil", "S", "IY"]
    assert seat["next_phone_type"].tolist() == ["vowel", "unvoiced_consonant", "vowel"]
    assert np.allclose(t["duration_ms"] % 20, 0)
    assert set(items.edges) == {"loudness", "brightness", "tilt", "duration"}
    assert (
        "IY (vowel), medial in 'SEAT', after S, before T; female speaker f_a; F0 220 Hz (high pitch)"
        in t.loc[seat.index[1], "caption"]
    )
    assert "no F0" in t.loc[seat.index[0], "caption"]


def test_phone_items_refuse_rows_outside_the_frame_labels(corpus):
    bad = corpus.index.copy()
    bad.loc[0, "frame"] += 1
    with pytest.raises(BadInputError, match="not the middle frame"):
        phone_items(bad, corpus.frames, corpus.audio_paths, corpus.grid, 3, 3)


def test_utterance_items(corpus, items):
    utts = corpus.manifest["utt_id"].tolist()
    u = utterance_items(utts, corpus.manifest, items, 3)
    t = u.table.set_index("utt_id")
    assert t.loc["f_a-0000", "median_f0_hz"] == 220 and t.loc["m_a-0000", "pitch"] == "low"
    assert (t["gender"] == corpus.manifest.set_index("utt_id")["gender"]).all()
    assert t["caption"].str.startswith("utterance 'SEAT A MAN' by female speaker f_a").any()
    assert set(u.attributes) == {"speaker", "gender", "pitch", "loudness", "duration", "rate"}
