"""Frame labels: one phone, word and middle-frame flag per model frame, from an alignment.

Definitions (frame grid from :class:`~speechneurons.frames.FrameGrid`, hop h and receptive
field r in samples, sample rate sr):

- Frame t spans [a_t, b_t) = [t * h / sr, t * h / sr + r / sr) (20 ms shift, 25 ms long for
  the base conv stack). The number of frames of an utterance is ``FrameGrid.num_frames`` of
  its sample count (audio header), i.e. exactly what the model produces.
- The phone tier is turned into a *tiling* of [0, T): intervals sorted by time, gaps and empty
  labels become silence ('sil'), consecutive silences are merged into one segment, and a
  silence segment is appended up to the end of the last frame span when the audio runs past
  the last interval (trailing audio). Labels are normalised with
  :func:`speechneurons.phones.normalize_phone` (stress stripped, 'sil'/'spn' kept).
- Frame t takes the segment i with the largest overlap
  |[a_t, b_t) ∩ [s_i, e_i)|; ties (to 1 ns) go to the earlier segment. Because the tiling is
  ordered, the chosen segment never decreases with t, so every segment owns one contiguous run
  of frames (possibly empty).
- Middle frame: a segment [s_i, e_i) owning the run of frames f0..f1 flags the frame of that run
  whose centre (t * h + r / 2) / sr is nearest its temporal midpoint (s_i + e_i) / 2 (ties to
  the earlier frame). Taking the central frame of the run instead, f0 + (n - 1) // 2, puts it
  half a frame shift early on average for runs of even length. A segment that owns no
  frame (shorter than about half a frame shift, or out-voted by both neighbours) has no middle
  frame and does not appear in the table; :func:`label_frames` counts such speech segments.
  Silence and 'spn' segments get middle frames too (statistics exclude them by label).
- Word: the label of the word interval containing the segment's temporal midpoint
  (s_i + e_i) / 2; '' for silence segments and for phones outside every word.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from speechneurons.phones import SILENCE, is_speech_phone, normalize_phone

Interval = tuple[float, float, str]
SUMMARY_COLUMNS = [
    "utt_id",
    "status",
    "n_samples",
    "n_frames",
    "textgrid_minus_audio_s",
    "n_speech_segments",
    "n_speech_segments_without_frame",
    "reason",
]
COLUMNS = ["utt_id", "frame", "phone", "word", "is_mid"]


@dataclass
class FrameLabels:
    """Per-frame labels of one utterance."""

    phone: np.ndarray  # object array of phone labels, length n_frames
    word: np.ndarray  # object array of word labels ('' for silence)
    is_mid: np.ndarray  # bool, the middle frame of each segment
    segment: np.ndarray  # int, index of the chosen segment in the tiling
    n_speech_segments: int  # speech phone segments in the tiling
    n_speech_segments_without_frame: int  # of those, how many own no frame


def phone_tiling(phones: Iterable[Sequence], end_s: float) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Ordered, gap-free segments covering [0, max(end_s, last end)) -> (starts, ends, labels).

    Gaps and empty labels become 'sil'; consecutive 'sil' segments are merged. Raises
    ValueError for a non-ARPAbet label or overlapping intervals.
    """
    items = sorted(((float(s), float(e), str(lab)) for s, e, lab in phones if float(e) > float(s)), key=lambda x: x[0])
    starts: list[float] = []
    ends: list[float] = []
    labels: list[str] = []

    def push(s: float, e: float, lab: str) -> None:
        if e - s <= 0:
            return
        if labels and lab == SILENCE and labels[-1] == SILENCE:
            ends[-1] = e
            return
        starts.append(s)
        ends.append(e)
        labels.append(lab)

    t = 0.0
    for s, e, lab in items:
        if s < t - 1e-6:
            raise ValueError(f"phone interval {lab!r} at {s:.6f} s overlaps the previous one ending at {t:.6f} s")
        s = max(s, t)
        push(t, s, SILENCE)
        push(s, e, normalize_phone(lab))
        t = max(t, e)
    push(t, max(float(end_s), t), SILENCE)
    return np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64), labels


def assign_frames(starts: np.ndarray, ends: np.ndarray, n_frames: int, grid: FrameGrid) -> np.ndarray:
    """Index of the largest-overlap segment for each frame (ties -> earlier segment).

    Vectorised: for frame t only segments first_t..last_t can overlap, where first_t is the
    first segment ending after a_t and last_t the last one starting before b_t.
    """
    if n_frames == 0:
        return np.zeros(0, dtype=np.int64)
    a = np.arange(n_frames, dtype=np.float64) * grid.hop / grid.sample_rate
    b = a + grid.receptive_field / grid.sample_rate
    first = np.searchsorted(ends, a, side="right")
    last = np.searchsorted(starts, b, side="left") - 1
    first = np.minimum(first, len(starts) - 1)
    last = np.maximum(last, first)
    k = int((last - first).max()) + 1
    idx = first[:, None] + np.arange(k)[None, :]
    valid = idx <= last[:, None]
    idx = np.minimum(idx, len(starts) - 1)
    overlap = np.minimum(b[:, None], ends[idx]) - np.maximum(a[:, None], starts[idx])
    overlap = np.round(np.clip(overlap, 0.0, None), 9)
    overlap[~valid] = -1.0
    return idx[np.arange(n_frames), np.argmax(overlap, axis=1)]


def middle_frames(
    starts: np.ndarray, ends: np.ndarray, first: np.ndarray, last: np.ndarray, grid: FrameGrid
) -> np.ndarray:
    """For segments [starts, ends) owning frames first..last: the frame whose centre is nearest
    the segment's midpoint, ties to the earlier frame."""
    shift = grid.hop / grid.sample_rate
    offset = grid.receptive_field / (2 * grid.sample_rate)
    x = ((starts + ends) / 2 - offset) / shift  # fractional frame index of the midpoint
    nearest = np.ceil(np.round(x - 0.5, 9)).astype(np.int64)  # x = k + 0.5 -> k (earlier)
    return np.clip(nearest, first, last)


def segment_words(starts: np.ndarray, ends: np.ndarray, labels: Sequence[str], words: Iterable[Sequence]) -> list[str]:
    """Word of each segment: the word interval containing its midpoint ('' for silence)."""
    w = sorted(((float(s), float(e), str(lab).strip()) for s, e, lab in words if str(lab).strip()), key=lambda x: x[0])
    if not w:
        return [""] * len(labels)
    ws = np.array([x[0] for x in w])
    we = np.array([x[1] for x in w])
    mids = (starts + ends) / 2
    j = np.searchsorted(ws, mids, side="right") - 1
    out = []
    for i, lab in enumerate(labels):
        ok = lab != SILENCE and j[i] >= 0 and mids[i] < we[j[i]]
        out.append(w[j[i]][2] if ok else "")
    return out


def label_frames(phones: Iterable[Sequence], words: Iterable[Sequence], n_frames: int, grid: FrameGrid) -> FrameLabels:
    """Labels of ``n_frames`` frames from a phone tier and a word tier (see module docstring)."""
    end_s = ((n_frames - 1) * grid.hop + grid.receptive_field) / grid.sample_rate if n_frames else 0.0
    starts, ends, labels = phone_tiling(phones, end_s)
    seg_words = segment_words(starts, ends, labels, words)
    choice = assign_frames(starts, ends, n_frames, grid)
    is_mid = np.zeros(n_frames, dtype=bool)
    if n_frames:
        owned, first, counts = np.unique(choice, return_index=True, return_counts=True)
        is_mid[middle_frames(starts[owned], ends[owned], first, first + counts - 1, grid)] = True
    else:
        owned = np.zeros(0, dtype=np.int64)
    lab_arr = np.asarray(labels, dtype=object)
    speech = np.array([is_speech_phone(x) for x in labels], dtype=bool)
    owned_mask = np.zeros(len(labels), dtype=bool)
    owned_mask[owned] = True
    return FrameLabels(
        phone=lab_arr[choice] if n_frames else np.zeros(0, dtype=object),
        word=np.asarray(seg_words, dtype=object)[choice] if n_frames else np.zeros(0, dtype=object),
        is_mid=is_mid,
        segment=choice,
        n_speech_segments=int(speech.sum()),
        n_speech_segments_without_frame=int((speech & ~owned_mask).sum()),
    )


def utterance_frame_table(utt_id: str, labels: FrameLabels) -> pd.DataFrame:
    """The rows of one utterance in the frame-label table."""
    n = len(labels.phone)
    return pd.DataFrame(
        {
            "utt_id": np.full(n, utt_id, dtype=object),
            "frame": np.arange(n, dtype=np.int32),
            "phone": labels.phone,
            "word": labels.word,
            "is_mid": labels.is_mid,
        }
    )


def build_frame_labels(
    manifest: pd.DataFrame,
    textgrid_dir: str | Path,
    grid: FrameGrid,
    failed: Iterable[str] = (),
    on_bad_input: str = "error",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frame-label table of every aligned utterance of ``manifest`` and a per-utterance summary.

    The frame count comes from the audio header (``FrameGrid.num_frames(n_samples)``).
    Utterances listed in ``failed`` (alignment failures) are left out. A missing or unusable
    TextGrid of any other utterance raises BadInputError, or with ``on_bad_input='skip'`` is
    left out and recorded with its reason in the summary (``status`` = 'skipped').
    """
    from speechneurons.align.textgrid import read_alignment_textgrid
    from speechneurons.audio import audio_info, check_audio_info

    failed = set(failed)
    tables, summary = [], []
    for row in manifest.itertuples(index=False):
        utt = str(row.utt_id)
        if utt in failed:
            summary.append({"utt_id": utt, "status": "alignment_failed"})
            continue
        tg_path = Path(textgrid_dir) / f"{utt}.TextGrid"
        try:
            info = audio_info(row.audio_path)
            check_audio_info(row.audio_path, info, grid.sample_rate)
            duration, words, phones = read_alignment_textgrid(tg_path)
            n_frames = grid.num_frames(info.frames)
            try:
                labels = label_frames(phones, words, n_frames, grid)
            except ValueError as exc:
                raise BadInputError(
                    tg_path,
                    str(exc),
                    "Align with the ARPAbet phone set (MFA english_us_arpa, pocketsphinx en-us).",
                    utt,
                ) from exc
        except BadInputError as exc:
            if on_bad_input != "skip":
                raise
            summary.append({"utt_id": utt, "status": "skipped", "reason": str(exc)})
            continue
        tables.append(utterance_frame_table(utt, labels))
        summary.append(
            {
                "utt_id": utt,
                "status": "labelled",
                "n_samples": info.frames,
                "n_frames": n_frames,
                "textgrid_minus_audio_s": round(duration - info.duration_s, 6),
                "n_speech_segments": labels.n_speech_segments,
                "n_speech_segments_without_frame": labels.n_speech_segments_without_frame,
                "reason": "",
            }
        )
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame({c: [] for c in COLUMNS})
    table = table.astype({"utt_id": str, "frame": np.int32, "phone": str, "word": str, "is_mid": bool})
    return table[COLUMNS], pd.DataFrame(summary, columns=SUMMARY_COLUMNS)
