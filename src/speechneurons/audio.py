"""Audio I/O: loading 16 kHz mono speech with loud, actionable errors, and atomic writing.

Every stage reads audio through :func:`load_audio`, which refuses (with
:class:`~speechneurons.errors.BadInputError` naming the file and the fix) anything that is
not a readable, non-empty, single-channel file at the expected sample rate. Samples are
returned as float32 in [-1, 1].
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from speechneurons.errors import BadInputError
from speechneurons.io import atomic_path


@dataclass(frozen=True)
class AudioInfo:
    """Header facts of an audio file (read without decoding the samples)."""

    frames: int
    sample_rate: int
    channels: int

    @property
    def duration_s(self) -> float:
        return self.frames / self.sample_rate if self.sample_rate else 0.0


def audio_info(path: str | Path) -> AudioInfo:
    """Frames, sample rate and channels of ``path`` from its header.

    Raises BadInputError when the file is missing or cannot be parsed.
    """
    import soundfile as sf  # here: most jobs import this module and read no audio

    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "audio file does not exist", "Check the path (and the corpus root in the config).")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # soundfile raises LibsndfileError / RuntimeError
        raise BadInputError(
            path,
            f"audio file is unreadable or corrupt ({exc})",
            "Re-create or re-download the file, or remove it from the corpus (or set on_bad_input: skip).",
        ) from exc
    return AudioInfo(frames=int(info.frames), sample_rate=int(info.samplerate), channels=int(info.channels))


def check_audio_info(path: str | Path, info: AudioInfo, sample_rate: int = 16000) -> None:
    """Raise BadInputError unless ``info`` describes non-empty mono audio at ``sample_rate``."""
    if info.frames <= 0:
        raise BadInputError(
            path,
            "audio file is empty (0 samples)",
            "Re-create the file or remove it from the corpus (or set on_bad_input: skip).",
        )
    if info.channels != 1:
        raise BadInputError(
            path,
            f"audio has {info.channels} channels, expected mono",
            f"Mix it down to one channel, e.g. `sox {path} -c 1 out.wav remix -` (or set on_bad_input: skip).",
        )
    if info.sample_rate != sample_rate:
        raise BadInputError(
            path,
            f"audio sample rate is {info.sample_rate} Hz, expected {sample_rate} Hz",
            f"Resample it, e.g. `sox {path} -r {sample_rate} out.wav` (or set on_bad_input: skip).",
        )


def load_audio(path: str | Path, sample_rate: int = 16000) -> np.ndarray:
    """Read ``path`` as float32 mono samples at ``sample_rate``.

    Raises BadInputError (naming the file and the fix) for a missing, unreadable/corrupt,
    empty, multichannel or other-rate file. Nothing is resampled silently.
    """
    import soundfile as sf

    path = Path(path)
    info = audio_info(path)
    check_audio_info(path, info, sample_rate)
    try:
        audio, _ = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise BadInputError(
            path,
            f"audio file is unreadable or corrupt ({exc})",
            "Re-create or re-download the file, or remove it from the corpus (or set on_bad_input: skip).",
        ) from exc
    if audio.shape[0] == 0:
        raise BadInputError(
            path,
            "audio file is empty (0 samples)",
            "Re-create the file or remove it from the corpus (or set on_bad_input: skip).",
        )
    if audio.shape[0] < info.frames:
        raise BadInputError(
            path,
            f"audio data is truncated: the header gives {info.frames} samples, {audio.shape[0]} could be decoded",
            "Re-create or re-download the file, or remove it from the corpus (or set on_bad_input: skip).",
        )
    return np.ascontiguousarray(audio[:, 0])


def write_wav(path: str | Path, audio: np.ndarray, sr: int) -> None:
    """Write mono float audio as 16-bit PCM WAV atomically (values clipped to [-1, 1])."""
    import soundfile as sf

    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    if audio.ndim != 1:
        raise ValueError("write_wav expects mono audio (a 1-D array)")
    with atomic_path(path) as tmp:
        sf.write(str(tmp), audio, int(sr), subtype="PCM_16", format="WAV")


def write_flac(path: str | Path, audio: np.ndarray, sr: int) -> None:
    """Write mono float audio as 16-bit FLAC atomically (used to build LibriSpeech-shaped data)."""
    import soundfile as sf

    audio = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), audio, int(sr), subtype="PCM_16", format="FLAC")
