"""F0 extraction on the model frame grid (speechneurons.pitch), on synthetic signals of known F0."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from speechneurons.audio import write_wav
from speechneurons.config import defaults, section_params, settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from speechneurons.pitch.f0 import PitchSettings, extract_corpus, extract_f0
from tests.helpers.config import default_settings

SR = 16000
GRID = FrameGrid()


def pitch_settings(**overrides) -> PitchSettings:
    return default_settings(PitchSettings, "pitch", **overrides)


PITCH = pitch_settings()


def times(n: int) -> np.ndarray:
    """Sample times in Praat's convention (sample i at (i + 0.5) / sr), matching frame centres."""
    return (np.arange(n) + 0.5) / SR


def tone(f0: float, seconds: float = 1.0, amp: float = 0.5, extra: int = 0) -> np.ndarray:
    n = int(seconds * SR) + extra
    return amp * np.sin(2 * np.pi * f0 * times(n))


def harmonic_complex(f0: float, harmonics=range(1, 11), seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = times(int(seconds * SR))
    x = sum(np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k for k in harmonics)
    return 0.3 * x / np.abs(x).max()


@pytest.mark.parametrize("f0", [90.0, 150.0, 240.0])
def test_pure_tone(f0):
    got, voiced = extract_f0(tone(f0), SR, GRID, PITCH)
    assert voiced.all()
    assert np.max(np.abs(got - f0)) < 0.5


@pytest.mark.parametrize("f0", [110.0, 210.0])
@pytest.mark.parametrize("harmonics", [range(1, 11), range(2, 11)], ids=["full", "missing-fundamental"])
def test_harmonic_complex(f0, harmonics):
    got, voiced = extract_f0(harmonic_complex(f0, harmonics), SR, GRID, PITCH)
    assert voiced.all()
    assert np.max(np.abs(got - f0)) < 0.5


def test_silence_and_noise_are_unvoiced():
    f0, voiced = extract_f0(np.zeros(SR + 1), SR, GRID, PITCH)
    assert not voiced.any() and np.isnan(f0).all()  # unvoiced frames carry NaN, never 0
    noise = 0.3 * np.random.default_rng(0).standard_normal(SR)
    _, voiced = extract_f0(noise, SR, GRID, PITCH)
    assert voiced.mean() < 0.1


def test_tone_between_silences_is_voiced_only_inside():
    x = np.concatenate([np.zeros(SR // 2), tone(200.0, 0.5), np.zeros(SR // 2)])
    f0, voiced = extract_f0(x, SR, GRID, PITCH)
    c = GRID.frame_centres(len(f0))
    inside = (c > 0.5 + 0.04) & (c < 1.0 - 0.04)
    outside = (c < 0.5 - 0.04) | (c > 1.0 + 0.04)
    assert voiced[inside].all() and not voiced[outside].any()
    assert np.nanmax(np.abs(f0[inside] - 200.0)) < 0.5


@pytest.mark.parametrize("n", [399, 400, 401, 719, 721, 16001, 16321, 33333, 48017])
def test_frame_count_matches_model_for_odd_lengths(n):
    f0, voiced = extract_f0(tone(150.0, 0, extra=n), SR, GRID, PITCH)
    assert len(f0) == len(voiced) == GRID.num_frames(n)


def test_frames_are_centred_on_model_frame_centres():
    """A linear glide f(t) = 100 + 100 t: frame t must report f(c_t); a 5 ms offset would cost 0.5 Hz."""
    n = 2 * SR + 123
    t = times(n)
    x = 0.5 * np.sin(2 * np.pi * (100 * t + 50 * t**2))
    f0, voiced = extract_f0(x, SR, GRID, PITCH)
    c = GRID.frame_centres(len(f0))
    assert voiced.all()
    assert np.median(np.abs(f0 - (100 + 100 * c))[3:-3]) < 0.05


@pytest.mark.parametrize(
    "settings", [pitch_settings(method="cc"), pitch_settings(very_accurate=True), pitch_settings(floor_hz=65.3)]
)
@pytest.mark.parametrize(
    "grid", [GRID, FrameGrid((10, 3, 3, 3, 3, 2), (5, 2, 2, 2, 2, 2), 16000)], ids=["hop320", "hop160"]
)
def test_alignment_holds_for_other_settings_and_grids(settings, grid):
    for n in (8001, 12345):
        f0, voiced = extract_f0(tone(180.0, 0, extra=n), SR, grid, settings)
        assert len(f0) == grid.num_frames(n)
        assert np.nanmax(np.abs(f0 - 180.0)[2:-2]) < 0.5 and voiced.mean() > 0.9  # edges: partial windows


def test_rejects_wrong_rate_and_stereo():
    with pytest.raises(ValueError, match="8000 Hz"):
        extract_f0(np.zeros(8000), 8000, GRID, PITCH)
    with pytest.raises(ValueError, match="mono"):
        extract_f0(np.zeros((2, 8000)), SR, GRID, PITCH)
    with pytest.raises(ValueError):
        pitch_settings(floor_hz=300, ceiling_hz=200)


def test_settings_read_only_their_keys_and_per_gender_overrides():
    cfg = defaults()["pitch"]
    params = section_params(PitchSettings, cfg)
    assert "n_bins" not in params and "binning" not in params  # binning never reruns the F0 extraction
    settings = settings_from(PitchSettings, params)
    assert settings.for_gender("F") == settings  # null overrides keep the global values
    params["per_gender"]["F"]["floor_hz"] = 100
    settings = settings_from(PitchSettings, params)
    assert settings.for_gender("F").floor_hz == 100 and settings.for_gender("M").floor_hz == cfg["floor_hz"]


def write_corpus(tmp_path, bad: bool = False) -> str:
    rows = []
    for utt, spk, gender, f0, seconds in [("u1", "s1", "F", 220.0, 0.7), ("u2", "s2", "M", 110.0, 0.9)]:
        path = tmp_path / f"{utt}.wav"
        write_wav(path, tone(f0, seconds, extra=37), SR)
        rows.append((utt, str(path), spk, gender, seconds, SR, "a tone", "train"))
    if bad:
        rows.append(("u3", str(tmp_path / "missing.wav"), "s2", "M", 1.0, SR, "gone", "test"))
    manifest = tmp_path / "manifest.tsv"
    columns = ["utt_id", "audio_path", "speaker", "gender", "duration_s", "sample_rate", "transcript", "split"]
    pd.DataFrame(rows, columns=columns).to_csv(manifest, sep="\t", index=False)
    return str(manifest)


def test_extract_corpus_table_and_determinism(tmp_path):
    manifest = read_manifest(write_corpus(tmp_path))
    cfg = PITCH
    table, skipped = extract_corpus(manifest, GRID, cfg, progress=False)
    assert list(table.columns) == ["utt_id", "frame", "f0_hz", "voiced"] and skipped.empty
    for utt, seconds, f0 in [("u1", 0.7, 220.0), ("u2", 0.9, 110.0)]:
        rows = table[table.utt_id == utt]
        assert rows["frame"].tolist() == list(range(GRID.num_frames(int(seconds * SR) + 37)))
        assert abs(rows["f0_hz"].median() - f0) < 0.5
    again, _ = extract_corpus(manifest, GRID, cfg, progress=False)
    pd.testing.assert_frame_equal(table, again)


def test_per_gender_ceiling_is_applied(tmp_path):
    manifest = read_manifest(write_corpus(tmp_path))
    cfg = pitch_settings(per_gender={"F": {"floor_hz": None, "ceiling_hz": 150.0}})  # u1 (F): a 220 Hz tone
    table, _ = extract_corpus(manifest, GRID, cfg, progress=False)
    f_rows, m_rows = table[table.utt_id == "u1"], table[table.utt_id == "u2"]
    assert not (np.abs(f_rows["f0_hz"] - 220.0) < 5).any()
    assert (np.abs(m_rows["f0_hz"] - 110.0) < 0.5).all()


def test_bad_audio_errors_or_is_skipped(tmp_path):
    manifest = read_manifest(write_corpus(tmp_path, bad=True))
    cfg = PITCH
    with pytest.raises(BadInputError, match="missing.wav"):
        extract_corpus(manifest, GRID, cfg, progress=False)
    table, skipped = extract_corpus(manifest, GRID, cfg, on_bad_input="skip", progress=False)
    assert skipped["utt_id"].tolist() == ["u3"] and set(table["utt_id"]) == {"u1", "u2"}
