"""Tests of speechneurons.audio: loading with actionable errors, atomic writing."""

import numpy as np
import pytest
import soundfile as sf

from speechneurons.audio import audio_info, load_audio, write_flac, write_wav
from speechneurons.errors import BadInputError


def _tone(n=16000, sr=16000):
    t = np.arange(n) / sr
    return (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)


def test_roundtrip_wav(tmp_path):
    x = _tone()
    write_wav(tmp_path / "a.wav", x, 16000)
    y = load_audio(tmp_path / "a.wav")
    assert y.dtype == np.float32 and y.ndim == 1 and len(y) == len(x)
    assert np.max(np.abs(y - x)) < 1e-3
    info = audio_info(tmp_path / "a.wav")
    assert (info.frames, info.sample_rate, info.channels) == (16000, 16000, 1)
    assert info.duration_s == pytest.approx(1.0)
    assert not list(tmp_path.glob(".*tmp*"))  # no temporary left behind


def test_roundtrip_flac(tmp_path):
    write_flac(tmp_path / "a.flac", _tone(800), 16000)
    assert len(load_audio(tmp_path / "a.flac")) == 800


def test_missing(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_corrupt(tmp_path):
    p = tmp_path / "bad.wav"
    p.write_bytes(b"RIFF this is not audio at all")
    with pytest.raises(BadInputError) as e:
        load_audio(p)
    assert "bad.wav" in str(e.value) and "unreadable" in str(e.value)


def test_empty(tmp_path):
    p = tmp_path / "empty.wav"
    sf.write(str(p), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(BadInputError, match="empty"):
        load_audio(p)


def test_stereo(tmp_path):
    p = tmp_path / "st.wav"
    sf.write(str(p), np.zeros((100, 2), dtype=np.float32), 16000)
    with pytest.raises(BadInputError, match="2 channels") as e:
        load_audio(p)
    assert "st.wav" in str(e.value) and "sox" in e.value.fix


def test_wrong_rate(tmp_path):
    p = tmp_path / "r.wav"
    sf.write(str(p), _tone(441, 44100), 44100)
    with pytest.raises(BadInputError, match="44100 Hz") as e:
        load_audio(p)
    assert "-r 16000" in e.value.fix
    assert len(load_audio(p, sample_rate=44100)) == 441
