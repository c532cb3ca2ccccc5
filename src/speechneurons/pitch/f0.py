"""F0 with Praat (through Parselmouth) sampled on exactly the model frame grid.

Praat places its analysis frames itself: for a sound of L samples (duration D = L / sr),
window W and time step dt it computes n = floor((D - W) / dt) + 1 frames centred on the
sound, the first at  t_1 = x_mid - (n - 1) dt / 2  (x_mid = midpoint of the sound). Model
frame t is centred at  c_t = (t * hop + rf / 2) / sr  (:class:`~speechneurons.frames.FrameGrid`).
With dt = hop / sr we zero-pad the sound left by P and right by Q samples, chosen so that
t_1 falls on a model centre (in samples: (2 x_mid - (n - 1) hop - rf) = 0 mod 2 hop), and
that every model frame has a Praat frame; the alignment is then checked on Praat's own
frame times. Frame t thus gets Praat's F0 estimate of the window centred at c_t.

Output convention: ``f0_hz`` is NaN for unvoiced frames (never 0), ``voiced`` is the flag.
Window W: 3 / floor for autocorrelation ('ac', doubled with very_accurate), 2 / floor for
cross-correlation ('cc').
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid

log = logging.getLogger(__name__)

F0_COLUMNS = ["utt_id", "frame", "f0_hz", "voiced"]
SKIPPED_COLUMNS = ["utt_id", "path", "reason"]


@dataclass(frozen=True)
class PitchSettings:
    """Parameters of Praat's pitch tracker ("To Pitch (ac)" / "To Pitch (cc)"): keys of the
    ``pitch`` config section (schemas/pitch.schema.yaml has their meanings and defaults).
    ``per_gender`` maps a gender to floor_hz / ceiling_hz overrides (null = the global value)."""

    floor_hz: float
    ceiling_hz: float
    per_gender: Mapping[str, Mapping[str, float | None]]
    method: str
    very_accurate: bool
    max_candidates: int
    silence_threshold: float
    voicing_threshold: float
    octave_cost: float
    octave_jump_cost: float
    voiced_unvoiced_cost: float

    def __post_init__(self) -> None:
        if self.method not in ("ac", "cc"):
            raise ValueError(f"pitch method must be 'ac' or 'cc', not {self.method!r}")
        if not 0 < self.floor_hz < self.ceiling_hz:
            raise ValueError(f"need 0 < floor_hz < ceiling_hz, got {self.floor_hz}, {self.ceiling_hz}")

    @property
    def window_s(self) -> float:
        """Praat's analysis window: 3 (6 if very accurate) periods of the floor for 'ac', 2 for 'cc'."""
        if self.method == "cc":
            return 2.0 / self.floor_hz
        return (6.0 if self.very_accurate else 3.0) / self.floor_hz

    def for_gender(self, gender: str | None) -> PitchSettings:
        """These settings with ``per_gender[gender]``'s floor_hz / ceiling_hz where set."""
        override = (self.per_gender or {}).get(gender) if gender is not None else None
        changes = {
            k: float(v) for k, v in (override or {}).items() if v is not None and k in ("floor_hz", "ceiling_hz")
        }
        return replace(self, **changes) if changes else self


def _padding(n_samples: int, n_frames: int, grid: FrameGrid, window: float) -> tuple[int, int]:
    """Left/right zero padding (samples) that puts Praat's frames on the model frame centres.

    In samples (sample i spans [i, i + 1)), with a = -P, b = n + Q, L = b - a and
    m = floor((L - W) / hop): Praat's first frame is at (a + b - m hop) / 2; it lies on the grid
    iff L = r (mod hop) with r = (rf + 2P) mod 2 hop, and floor((r - W) / hop) is even. P is
    the smallest value >= W/2 + hop whose (r - W) mod 2 hop lies in [hop/4, 3 hop/4] (that
    also keeps (L - W) / hop half-way between integers, safe from rounding in Praat's floor).
    """
    hop, rf = grid.hop, grid.receptive_field
    half = window / 2.0
    pad_left = int(math.ceil(half)) + hop
    while not (0.25 * hop <= (rf + 2 * pad_left - window) % (2 * hop) <= 0.75 * hop):
        pad_left += 1
    r = (rf + 2 * pad_left) % (2 * hop)
    last_centre = (n_frames - 1) * hop + rf / 2 if n_frames else 0.0
    min_len = pad_left + int(math.ceil(max(n_samples, last_centre + half))) + hop
    length = min_len + (r - min_len) % hop
    return pad_left, length - pad_left - n_samples


def extract_f0(
    samples: np.ndarray, sample_rate: int, grid: FrameGrid, settings: PitchSettings
) -> tuple[np.ndarray, np.ndarray]:
    """F0 (Hz, NaN when unvoiced) and voiced flag of every model frame of ``samples``.

    Returns two arrays of length ``grid.num_frames(len(samples))``.
    """
    import parselmouth

    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1:
        raise ValueError(f"expected mono audio (1-D samples), got shape {samples.shape}")
    if int(sample_rate) != grid.sample_rate:
        raise ValueError(f"audio is {sample_rate} Hz but the frame grid is {grid.sample_rate} Hz")
    n_frames = grid.num_frames(len(samples))
    f0 = np.full(n_frames, np.nan)
    voiced = np.zeros(n_frames, dtype=bool)
    if n_frames == 0:
        return f0, voiced
    sr = grid.sample_rate
    pad_left, pad_right = _padding(len(samples), n_frames, grid, settings.window_s * sr)
    padded = np.concatenate([np.zeros(pad_left), samples, np.zeros(pad_right)])
    sound = parselmouth.Sound(padded, sampling_frequency=sr, start_time=-pad_left / sr)
    kwargs = dict(
        time_step=grid.frame_shift_s,
        pitch_floor=settings.floor_hz,
        pitch_ceiling=settings.ceiling_hz,
        max_number_of_candidates=settings.max_candidates,
        very_accurate=settings.very_accurate,
        silence_threshold=settings.silence_threshold,
        voicing_threshold=settings.voicing_threshold,
        octave_cost=settings.octave_cost,
        octave_jump_cost=settings.octave_jump_cost,
        voiced_unvoiced_cost=settings.voiced_unvoiced_cost,
    )
    pitch = sound.to_pitch_cc(**kwargs) if settings.method == "cc" else sound.to_pitch_ac(**kwargs)
    times = np.asarray(pitch.xs())
    values = np.asarray(pitch.selected_array["frequency"], dtype=np.float64)
    # Praat frame j <-> model frame t: (times_j * sr - rf / 2) / hop must be an integer.
    pos = (times * sr - grid.receptive_field / 2) / grid.hop
    idx = np.rint(pos).astype(np.int64)
    if np.max(np.abs(pos - idx)) > 1e-6:
        raise RuntimeError("Praat's pitch frames are not on the model frame grid (padding bug)")
    keep = (idx >= 0) & (idx < n_frames)
    if np.count_nonzero(keep) != n_frames:
        raise RuntimeError("Praat's pitch frames do not cover every model frame (padding bug)")
    v = values[keep]
    is_voiced = v > 0
    f0[idx[keep]] = np.where(is_voiced, v, np.nan)
    voiced[idx[keep]] = is_voiced
    return f0, voiced


def f0_frame_table(utt_id: str, f0: np.ndarray, voiced: np.ndarray) -> pd.DataFrame:
    """One utterance's rows of f0.parquet: ``utt_id, frame, f0_hz, voiced``."""
    n = len(f0)
    return pd.DataFrame(
        {
            "utt_id": pd.Series([utt_id] * n, dtype="string"),
            "frame": np.arange(n, dtype=np.int32),
            "f0_hz": np.asarray(f0, dtype=np.float32),
            "voiced": np.asarray(voiced, dtype=bool),
        }
    )


def empty_f0_table() -> pd.DataFrame:
    return f0_frame_table("", np.zeros(0), np.zeros(0, dtype=bool))


AudioLoader = Callable[[str, int], np.ndarray]


def extract_corpus(
    manifest: pd.DataFrame,
    grid: FrameGrid,
    settings: PitchSettings,
    on_bad_input: str = "error",
    loader: AudioLoader | None = None,
    progress: bool = True,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """F0 of every manifest utterance (columns utt_id, audio_path, gender) on the model grid.

    Per-gender floor/ceiling overrides of ``settings`` apply by the manifest's gender. Unreadable audio
    raises BadInputError, or with
    ``on_bad_input='skip'`` is left out and listed in the second table (utt_id, path, reason).
    """
    from tqdm import tqdm

    if loader is None:
        from speechneurons.audio import load_audio as loader
    by_gender = {g: settings.for_gender(g) for g in ("F", "M")}
    parts, skipped = [], []
    rows = manifest[["utt_id", "audio_path", "gender"]].itertuples(index=False)
    for utt_id, path, gender in tqdm(rows, total=len(manifest), desc="F0", unit="utt", disable=not progress):
        try:
            samples = loader(str(path), grid.sample_rate)
        except BadInputError as err:
            if on_bad_input != "skip":
                raise
            log.warning("skipping %s: %s", utt_id, err)
            skipped.append((utt_id, str(path), err.problem))
            continue
        s = by_gender.get(gender, settings)
        f0, voiced = extract_f0(samples, grid.sample_rate, grid, s)
        parts.append(f0_frame_table(str(utt_id), f0, voiced))
    table = pd.concat(parts, ignore_index=True) if parts else empty_f0_table()
    return table, pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)
