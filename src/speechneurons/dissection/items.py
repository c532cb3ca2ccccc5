"""Items of the dissection and each neuron's most and least exciting items.

Two kinds of item:

- **phone**: one phone segment, represented by the activation at its middle frame (a row of
  the ``mid`` dump; the index row gives utt_id, frame, phone, speaker, gender, f0_hz,
  pitch_bin);
- **utterance**: one utterance, represented by the mean activation over its frames
  (:func:`utterance_means`).

Per neuron j, the top K items are the K largest activations a[i, j] over items i and the
bottom K the K smallest (raw values, not magnitudes). Ties are broken by item index (the
lower index wins), so the choice never depends on the sorting algorithm.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

import numpy as np
import pandas as pd


class Extremes(NamedTuple):
    """The top and bottom K items of every neuron of a layer."""

    top: np.ndarray
    """[D, K] int64: item indices of the K largest activations, largest first (ties: lower index first)."""
    top_values: np.ndarray
    """[D, K] float32: their activations."""
    bottom: np.ndarray
    """[D, K] int64: item indices of the K smallest activations, smallest first (ties: lower index first)."""
    bottom_values: np.ndarray
    """[D, K] float32: their activations."""


def top_k_items(acts: np.ndarray, k: int, largest: bool = True, chunk: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """Indices [D, k] and values [D, k] of the k largest (or smallest) entries of each column.

    Per column: v = the k-th largest value (``np.partition``); every entry > v is taken, and
    of the entries == v the lowest indices fill the remaining places. The k chosen entries are
    then ordered by value (descending for ``largest``), ties by index. Columns are processed
    ``chunk`` at a time, so memory stays ~ N * chunk * 9 bytes.
    """
    a = np.asarray(acts)
    if a.ndim != 2:
        raise ValueError(f"activations must be a matrix [items, neurons], got shape {a.shape}")
    n, d = a.shape
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must lie in 1..{n} (the number of items)")
    idx = np.empty((d, k), dtype=np.int64)
    val = np.empty((d, k), dtype=np.float32)
    for lo in range(0, d, chunk):
        x = np.asarray(a[:, lo:lo + chunk], dtype=np.float32)
        if np.isnan(x).any():
            raise ValueError("activations contain NaN; the dump is broken")
        if not largest:
            x = -x
        kth = np.partition(x, n - k, axis=0)[n - k]
        above = x > kth
        tied = x == kth
        need = k - above.sum(axis=0)
        chosen = above | (tied & (np.cumsum(tied, axis=0, dtype=np.int32) <= need))
        _, rows = np.nonzero(chosen.T)  # neuron-major, item indices ascending within a neuron
        rows = rows.reshape(-1, k)
        v = np.take_along_axis(x.T, rows, axis=1)
        order = np.argsort(-v, axis=1, kind="stable")
        idx[lo:lo + x.shape[1]] = np.take_along_axis(rows, order, axis=1)
        v = np.take_along_axis(v, order, axis=1)
        val[lo:lo + x.shape[1]] = v if largest else -v
    return idx, val


def extremes(acts: np.ndarray, k: int) -> Extremes:
    """The top K and bottom K items of every neuron (see :func:`top_k_items`)."""
    top, top_v = top_k_items(acts, k, largest=True)
    bot, bot_v = top_k_items(acts, k, largest=False)
    return Extremes(top, top_v, bot, bot_v)


class UtteranceMeans(NamedTuple):
    """Mean activation per utterance."""

    means: np.ndarray
    """[U, D] float32: mean over the utterance's rows of the activation matrix."""
    utt_ids: np.ndarray
    """[U] object: utterance of each row of ``means``, in order of first appearance."""
    n_rows: np.ndarray
    """[U] int64: rows averaged per utterance."""


def utterance_means(acts: np.ndarray, utt_ids: Sequence[str], chunk: int = 256) -> UtteranceMeans:
    """m[u, j] = (1 / n_u) * sum over rows r of utterance u of acts[r, j].

    ``utt_ids`` is row-aligned with ``acts``; rows of an utterance need not be contiguous.
    Accumulated in float64, ``chunk`` neurons at a time.
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(utt_ids, dtype=object)), sort=False)
    if len(codes) != len(acts):
        raise ValueError(f"index has {len(codes)} rows but the activations {len(acts)}")
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    counts = np.diff(np.r_[starts, len(codes)])
    d = acts.shape[1]
    means = np.empty((len(uniques), d), dtype=np.float32)
    for lo in range(0, d, chunk):
        block = np.asarray(acts[:, lo:lo + chunk], dtype=np.float64)[order]
        means[:, lo:lo + chunk] = np.add.reduceat(block, starts, axis=0) / counts[:, None]
    return UtteranceMeans(means, np.asarray(uniques, dtype=object), counts.astype(np.int64))
