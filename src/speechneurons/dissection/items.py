"""Items of the dissection and each neuron's most and least exciting items.

Two kinds of item:

- **phone**: one phone segment, represented by the activation at its middle frame (a row of
  the ``mid`` dump; the index row gives utt_id, frame, phone, speaker, gender, f0_hz,
  pitch_bin);
- **utterance**: one utterance, represented by the mean activation over its frames
  (:func:`utterance_means`).

Per neuron j, the top K items are the K largest activations a[i, j] over items i and the
bottom K the K smallest (raw values, not magnitudes). Ties are broken by a tie rank of the
items (by default the item index; the dissection uses a seeded random permutation), the lower
rank winning, so the choice never depends on the sorting algorithm.

Ties matter at the bottom: after GELU the activations of a float16 dump pile up at the
function's minimum (-0.1699): on the default run every layer-1 neuron has a median of 240
items at exactly that value. The bottom K are then a draw from a large tie; index order would
draw the corpus's first utterances (one speaker) every time, hence the seeded permutation, and
:class:`Extremes` reports the size of the tie at the K-th value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from speechneurons.dissection.settings import rng


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
    top_tied: np.ndarray
    """[D] int64: items whose activation equals the K-th largest (1 = no tie at the boundary)."""
    bottom_tied: np.ndarray
    """[D] int64: items whose activation equals the K-th smallest."""


class TopItems(NamedTuple):
    """The k extreme items of every column."""

    index: np.ndarray
    """[D, k] int64 item indices, most extreme first (ties: lower tie rank first)."""
    values: np.ndarray
    """[D, k] float32 activations."""
    tied: np.ndarray
    """[D] int64 items whose activation equals the k-th value."""


def top_k_items(
    acts: np.ndarray, k: int, largest: bool = True, chunk: int = 256, tie_rank: np.ndarray | None = None
) -> TopItems:
    """The k largest (or smallest) entries of each column.

    Per column: v = the k-th largest value (``np.partition``); every entry > v is taken, and
    of the entries == v those of lowest ``tie_rank`` (a permutation of 0..N-1; default: the item
    index) fill the remaining places. The k chosen entries are ordered by value (descending for
    ``largest``), then by tie rank. Columns are processed ``chunk`` at a time, so memory stays
    ~ N * chunk * 9 bytes.
    """
    a = np.asarray(acts)
    if a.ndim != 2:
        raise ValueError(f"activations must be a matrix [items, neurons], got shape {a.shape}")
    n, d = a.shape
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must lie in 1..{n} (the number of items)")
    by_rank = None
    if tie_rank is not None:
        tie_rank = np.asarray(tie_rank, dtype=np.int64)
        if tie_rank.shape != (n,) or not np.array_equal(np.sort(tie_rank), np.arange(n)):
            raise ValueError("tie_rank must be a permutation of 0..N-1")
        by_rank = np.argsort(tie_rank)  # item of each rank
    idx = np.empty((d, k), dtype=np.int64)
    val = np.empty((d, k), dtype=np.float32)
    tied = np.empty(d, dtype=np.int64)
    for lo in range(0, d, chunk):
        x = np.asarray(a[:, lo : lo + chunk], dtype=np.float32)
        if by_rank is not None:
            x = x[by_rank]  # row r = the item of tie rank r
        if np.isnan(x).any():
            raise ValueError("activations contain NaN; the dump is broken")
        if not largest:
            x = -x
        kth = np.partition(x, n - k, axis=0)[n - k]
        above = x > kth
        at_kth = x == kth
        need = k - above.sum(axis=0)
        chosen = above | (at_kth & (np.cumsum(at_kth, axis=0, dtype=np.int32) <= need))
        _, rows = np.nonzero(chosen.T)  # neuron-major, rows (tie ranks) ascending within a neuron
        rows = rows.reshape(-1, k)
        v = np.take_along_axis(x.T, rows, axis=1)
        order = np.argsort(-v, axis=1, kind="stable")
        rows = np.take_along_axis(rows, order, axis=1)
        idx[lo : lo + x.shape[1]] = rows if by_rank is None else by_rank[rows]
        v = np.take_along_axis(v, order, axis=1)
        val[lo : lo + x.shape[1]] = v if largest else -v
        tied[lo : lo + x.shape[1]] = at_kth.sum(axis=0)
    return TopItems(idx, val, tied)


def extremes(acts: np.ndarray, k: int, tie_seed: int | None = None) -> Extremes:
    """The top K and bottom K items of every neuron (see :func:`top_k_items`).

    ``tie_seed``: ties are broken by the permutation of the 'ties' stream of this seed
    (:func:`speechneurons.dissection.settings.rng`) instead of the item index.
    """
    rank = None if tie_seed is None else rng(tie_seed, "ties").permutation(len(acts))
    top = top_k_items(acts, k, largest=True, tie_rank=rank)
    bot = top_k_items(acts, k, largest=False, tie_rank=rank)
    return Extremes(top.index, top.values, bot.index, bot.values, top.tied, bot.tied)


def _distinct_side(
    a: np.ndarray, k: int, codes: np.ndarray, by_rank: np.ndarray, largest: bool, chunk: int
) -> TopItems:
    """:func:`top_k_items` with at most one item per group while groups last (see
    :func:`distinct_extremes`). Per neuron only a prefix of the item order is sorted: every item
    at or beyond the m-th value (m = 8 k, grown 4-fold while the prefix holds fewer than k
    groups), which is exactly the start of the full order, ties in tie-rank order."""
    n, d = a.shape
    idx = np.empty((d, k), dtype=np.int64)
    val = np.empty((d, k), dtype=np.float32)
    tied = np.empty(d, dtype=np.int64)
    g_ranked = codes[by_rank]
    for lo in range(0, d, chunk):
        x = np.asarray(a[:, lo : lo + chunk], dtype=np.float32)[by_rank]  # row r = item of tie rank r
        if np.isnan(x).any():
            raise ValueError("activations contain NaN; the dump is broken")
        key = -x if largest else x  # ascending key: the walk's order is by key, then tie rank
        for c in range(x.shape[1]):
            o, pos = _first_distinct(key[:, c], g_ranked, k)
            rows = o[pos]
            v = x[rows, c]
            idx[lo + c] = by_rank[rows]
            val[lo + c] = v
            tied[lo + c] = int(np.sum(x[:, c] == v[-1]))
    return TopItems(idx, val, tied)


def _first_distinct(key: np.ndarray, groups: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(o, pos): ``o`` a prefix of the stable ascending order of ``key`` (rows in tie-rank order)
    and ``pos`` the k positions in it that the walk of :func:`distinct_extremes` takes: the first
    item of each group while groups last, then the passed-over items in order."""
    n = len(key)
    m = min(n, 8 * k)
    while True:
        if m >= n:
            o = np.argsort(key, kind="stable")
        else:  # every item below the m-th key in order, then all items at it in row order
            t = np.partition(key, m - 1)[m - 1]
            below = np.flatnonzero(key < t)
            o = np.concatenate([below[np.argsort(key[below], kind="stable")], np.flatnonzero(key == t)])
        _, first = np.unique(groups[o], return_index=True)
        first = np.sort(first)
        if len(first) >= k:
            return o, first[:k]
        if len(o) == n:  # fewer groups than k: the next items in order fill the rest
            rest = np.setdiff1d(np.arange(n), first, assume_unique=True)[: k - len(first)]
            return o, np.sort(np.concatenate([first, rest]))
        m *= 4


def distinct_extremes(
    acts: np.ndarray, k: int, groups: Sequence, tie_seed: int | None = None, chunk: int = 256
) -> Extremes:
    """The top K and bottom K items of every neuron, at most one item per group (a speaker for
    utterance items, an utterance for phone items) while there are groups left: items are
    walked by activation (ties in the seeded order of :func:`extremes`) and an item whose
    group already has one is passed over; with fewer than K groups the passed-over items fill
    the rest in the same order. ``top_tied`` / ``bottom_tied``: items whose activation equals
    the K-th chosen one. On a GELU's floor every bottom item ties, so the bottom K are then a
    seeded draw among the tied items from distinct groups (:func:`floor_tied`)."""
    a = np.asarray(acts)
    if a.ndim != 2:
        raise ValueError(f"activations must be a matrix [items, neurons], got shape {a.shape}")
    n = a.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must lie in 1..{n} (the number of items)")
    codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))
    if len(codes) != n:
        raise ValueError(f"{len(codes)} groups for {n} items")
    rank = np.arange(n) if tie_seed is None else rng(tie_seed, "ties").permutation(n)
    by_rank = np.argsort(rank)
    top = _distinct_side(a, k, codes, by_rank, True, chunk)
    bot = _distinct_side(a, k, codes, by_rank, False, chunk)
    return Extremes(top.index, top.values, bot.index, bot.values, top.tied, bot.tied)


def floor_tied(ex: Extremes) -> np.ndarray:
    """[D] bool: neurons whose bottom K items all tie (every one at the same activation, more
    items at it than K): their bottom items are a draw among tied items, not the K lowest."""
    v = ex.bottom_values
    return (v[:, 0] == v[:, -1]) & (ex.bottom_tied > v.shape[1])


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
        block = np.asarray(acts[:, lo : lo + chunk], dtype=np.float64)[order]
        means[:, lo : lo + chunk] = np.add.reduceat(block, starts, axis=0) / counts[:, None]
    return UtteranceMeans(means, np.asarray(uniques, dtype=object), counts.astype(np.int64))
