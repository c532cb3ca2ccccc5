"""Alignment TextGrids shaped like Montreal Forced Aligner output (tiers ``words`` and ``phones``).

An alignment is a pair of interval lists ``[(start_s, end_s, label), ...]``. On disk both
tiers cover [0, duration] exactly: gaps are filled with empty-label intervals (silence),
as MFA does. Reading returns the intervals including those empty-label silences.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from praatio import textgrid as tgio
from praatio.data_classes.interval_tier import IntervalTier

from speechneurons.errors import BadInputError
from speechneurons.io import atomic_path

Interval = tuple[float, float, str]
WORDS_TIER = "words"
PHONES_TIER = "phones"
_EPS = 1e-6


def _clean(intervals: Iterable[Sequence], duration_s: float, tier: str) -> list[Interval]:
    """Drop empty labels, round times to 1 us, clip to [0, duration]; check order/overlap."""
    out: list[Interval] = []
    for start, end, label in intervals:
        label = str(label).strip()
        if not label:
            continue
        start = round(max(0.0, float(start)), 6)
        end = round(min(float(duration_s), float(end)), 6)
        if end - start <= _EPS:
            continue
        if out and start < out[-1][1] - _EPS:
            raise ValueError(
                f"{tier} tier: interval {label!r} starts at {start} before the previous one ends at {out[-1][1]}"
            )
        if out and start < out[-1][1]:
            start = out[-1][1]
        out.append((start, end, label))
    return out


def fill_gaps(intervals: Sequence[Interval], duration_s: float) -> list[Interval]:
    """Insert empty-label intervals so the tier covers [0, duration_s] without gaps."""
    out: list[Interval] = []
    t = 0.0
    for start, end, label in intervals:
        if start - t > _EPS:
            out.append((t, start, ""))
        out.append((start, end, label))
        t = end
    if duration_s - t > _EPS:
        out.append((t, round(float(duration_s), 6), ""))
    return out


def write_alignment_textgrid(
    path: str | Path,
    duration_s: float,
    words: Iterable[Sequence],
    phones: Iterable[Sequence],
) -> None:
    """Write tiers ``words`` and ``phones`` (long TextGrid format, like MFA) atomically.

    Empty labels in the input are treated as silence; gaps become empty-label intervals.
    """
    duration_s = round(float(duration_s), 6)
    tg = tgio.Textgrid(minTimestamp=0.0, maxTimestamp=duration_s)
    for name, intervals in ((WORDS_TIER, words), (PHONES_TIER, phones)):
        entries = _clean(intervals, duration_s, name)
        tg.addTier(IntervalTier(name, entries, 0.0, duration_s))
    with atomic_path(path) as tmp:
        tg.save(str(tmp), format="long_textgrid", includeBlankSpaces=True, reportingMode="error")


def read_alignment_textgrid(path: str | Path) -> tuple[float, list[Interval], list[Interval]]:
    """Read an MFA-shaped TextGrid -> (duration_s, words, phones), empty-label silences included.

    Raises BadInputError when the file is missing, unparsable or lacks a ``words``/``phones`` tier.
    """
    path = Path(path)
    if not path.exists():
        raise BadInputError(path, "TextGrid does not exist", "Re-run the rule that writes it.")
    try:
        tg = tgio.openTextgrid(str(path), includeEmptyIntervals=True, reportingMode="silence")
    except Exception as exc:
        raise BadInputError(
            path, f"TextGrid cannot be parsed ({exc})", "Re-create it (delete it and re-run the workflow)."
        ) from exc
    missing = [t for t in (WORDS_TIER, PHONES_TIER) if t not in tg.tierNames]
    if missing:
        raise BadInputError(
            path,
            f"TextGrid lacks tier(s) {', '.join(missing)} (has {', '.join(tg.tierNames)})",
            "Write alignments with tiers named 'words' and 'phones' (Montreal Forced Aligner format).",
        )
    duration = float(tg.maxTimestamp)
    tiers = []
    for name in (WORDS_TIER, PHONES_TIER):
        entries = [(float(e.start), float(e.end), str(e.label)) for e in tg.getTier(name).entries]
        tiers.append(fill_gaps(entries, duration))
    return duration, tiers[0], tiers[1]
