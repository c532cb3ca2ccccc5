"""Alignment quality against reference timings (the synthesizer's own phone boundaries).

Per utterance, both phone tiers are reduced to their speech phones (labels normalised with
:func:`speechneurons.phones.normalize_phone`; 'sil' and 'spn' dropped), giving sequences
R (reference) and H (hypothesis). They are aligned by minimum edit distance (unit cost for
substitution, insertion, deletion; on ties the traceback prefers the diagonal move, then
deletion, then insertion). A reference phone is **matched** when the alignment pairs it with a
hypothesis phone of the same label (a diagonal move between equal labels); substituted,
deleted and inserted phones are not matched.

Each matched pair contributes two **boundaries**, its start and its end; the boundary error is
|t_H - t_R|. Per speaker ("voice") and overall ('all'):

- ``matched_share`` = matched reference phones / reference phones (aligned utterances only);
- ``median_abs_error_ms`` = median boundary error; ``within_20ms`` / ``within_50ms`` = share of
  boundaries with error <= 20 ms / <= 50 ms;
- ``aligned_share`` = aligned utterances / utterances of the manifest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.phones import is_speech_phone, normalize_phone

QUALITY_COLUMNS = [
    "speaker",
    "n_utterances",
    "n_aligned",
    "aligned_share",
    "n_ref_phones",
    "n_matched",
    "matched_share",
    "n_boundaries",
    "median_abs_error_ms",
    "mean_abs_error_ms",
    "within_20ms",
    "within_50ms",
]


def speech_phones(phones: Iterable[Sequence]) -> list[tuple[float, float, str]]:
    """(start, end, phone) of the speech phones of a tier, labels normalised."""
    out = []
    for s, e, lab in phones:
        p = normalize_phone(str(lab))
        if is_speech_phone(p):
            out.append((float(s), float(e), p))
    return out


def match_sequences(ref: Sequence[str], hyp: Sequence[str]) -> list[tuple[int, int]]:
    """Index pairs (i, j) with ref[i] == hyp[j] on a minimum-edit-distance alignment."""
    n, m = len(ref), len(hyp)
    d = np.zeros((n + 1, m + 1), dtype=np.int64)
    d[:, 0] = np.arange(n + 1)
    d[0, :] = np.arange(m + 1)
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            d[i, j] = min(d[i - 1, j - 1] + (ref[i - 1] != hyp[j - 1]), d[i - 1, j] + 1, d[i, j - 1] + 1)
    pairs = []
    i, j = n, m
    while i > 0 and j > 0:
        cost = ref[i - 1] != hyp[j - 1]
        if d[i, j] == d[i - 1, j - 1] + cost:
            if not cost:
                pairs.append((i - 1, j - 1))
            i, j = i - 1, j - 1
        elif d[i, j] == d[i - 1, j] + 1:
            i -= 1
        else:
            j -= 1
    return pairs[::-1]


def utterance_quality(ref_phones: Iterable[Sequence], hyp_phones: Iterable[Sequence]) -> tuple[int, int, np.ndarray]:
    """(reference speech phones, matched phones, boundary errors in seconds) of one utterance."""
    ref, hyp = speech_phones(ref_phones), speech_phones(hyp_phones)
    pairs = match_sequences([p for _, _, p in ref], [p for _, _, p in hyp])
    errs = np.array([abs(hyp[j][k] - ref[i][k]) for i, j in pairs for k in (0, 1)], dtype=np.float64)
    return len(ref), len(pairs), errs


def summarise(n_utts: int, n_aligned: int, n_ref: int, n_matched: int, errs: np.ndarray) -> dict:
    """One row of the quality table from pooled counts and boundary errors (seconds)."""
    has = errs.size > 0
    return {
        "n_utterances": n_utts,
        "n_aligned": n_aligned,
        "aligned_share": n_aligned / n_utts if n_utts else np.nan,
        "n_ref_phones": n_ref,
        "n_matched": n_matched,
        "matched_share": n_matched / n_ref if n_ref else np.nan,
        "n_boundaries": int(errs.size),
        "median_abs_error_ms": float(np.median(errs) * 1000) if has else np.nan,
        "mean_abs_error_ms": float(np.mean(errs) * 1000) if has else np.nan,
        "within_20ms": float(np.mean(errs <= 0.020 + 1e-9)) if has else np.nan,
        "within_50ms": float(np.mean(errs <= 0.050 + 1e-9)) if has else np.nan,
    }


def alignment_quality(
    manifest: pd.DataFrame, textgrid_dir: str | Path, reference_dir: str | Path, aligned: Iterable[str]
) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """Quality table (one row per speaker, then 'all') and the boundary errors per speaker."""
    from speechneurons.align.textgrid import read_alignment_textgrid

    aligned = set(aligned)
    per_spk: dict[str, list] = {}
    for row in manifest.itertuples(index=False):
        utt, spk = str(row.utt_id), str(row.speaker)
        acc = per_spk.setdefault(spk, [0, 0, 0, 0, []])
        acc[0] += 1
        if utt not in aligned:
            continue
        _, _, ref = read_alignment_textgrid(Path(reference_dir) / f"{utt}.TextGrid")
        _, _, hyp = read_alignment_textgrid(Path(textgrid_dir) / f"{utt}.TextGrid")
        n_ref, n_match, errs = utterance_quality(ref, hyp)
        acc[1] += 1
        acc[2] += n_ref
        acc[3] += n_match
        acc[4].append(errs)
    rows, errors = [], {}
    for spk in sorted(per_spk):
        n_utts, n_al, n_ref, n_match, errs = per_spk[spk]
        errors[spk] = np.concatenate(errs) if errs else np.zeros(0)
        rows.append({"speaker": spk, **summarise(n_utts, n_al, n_ref, n_match, errors[spk])})
    tot = [sum(per_spk[s][k] for s in per_spk) for k in range(4)]
    all_errs = np.concatenate(list(errors.values())) if errors else np.zeros(0)
    rows.append({"speaker": "all", **summarise(*tot, all_errs)})
    return pd.DataFrame(rows, columns=QUALITY_COLUMNS), errors
