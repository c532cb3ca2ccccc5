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


def block_rows(n_columns: int, target: int = 1 << 20) -> int:
    """Rows per block so that a block holds about ``target`` values (at least 64 rows)."""
    return max(64, target // max(int(n_columns), 1))


def row_blocks(acts, rows: np.ndarray | None = None, block: int | None = None):
    """(start, block): the rows of ``acts`` [N, D] (an array, a memory map or
    :class:`speechneurons.io.NpyRows`) as float32 blocks, read a contiguous row range at a time;
    ``rows``: a boolean mask [N] of the rows to keep (``start`` then counts kept rows). Memory:
    one block (``block`` rows, default :func:`block_rows`), never the whole array."""
    n, d = int(acts.shape[0]), int(acts.shape[1])
    if rows is not None:
        rows = np.asarray(rows, dtype=bool)
        if rows.shape != (n,):
            raise ValueError(f"the row mask has shape {rows.shape}, expected ({n},)")
    block = block or block_rows(d)
    start = 0
    for lo in range(0, n, block):
        x = acts[lo : lo + block]
        if rows is not None:
            x = x[rows[lo : lo + block]]
        x = np.asarray(x, dtype=np.float32)
        if len(x):
            yield start, x
            start += len(x)


def n_rows(acts, rows: np.ndarray | None = None) -> int:
    """Rows of ``acts`` that :func:`row_blocks` yields."""
    return int(acts.shape[0]) if rows is None else int(np.count_nonzero(rows))


_NO_RANK = np.iinfo(np.int64).max


class _Running:
    """The first k items of every column in the order (key ascending, then tie rank), at most
    one per group, over the blocks seen so far (every item its own group: plain top k).

    An item that does not come before a column's current k-th item can never enter it (k
    other items, of k other groups, come first and stay), so each block only merges the
    items that do with the current k: memory D x k plus one block."""

    def __init__(self, d: int, k: int, distinct: bool) -> None:
        self.k, self.distinct = k, distinct
        self.key = np.full((d, k), np.inf, dtype=np.float32)
        self.rank = np.full((d, k), _NO_RANK, dtype=np.int64)
        self.item = np.full((d, k), -1, dtype=np.int64)
        self.group = np.full((d, k), -1, dtype=np.int64)

    def update(self, key: np.ndarray, items: np.ndarray, ranks: np.ndarray, groups: np.ndarray) -> None:
        thr_key, thr_rank = self.key[:, -1], self.rank[:, -1]
        ii, jj = np.nonzero((key < thr_key) | ((key == thr_key) & (ranks[:, None] < thr_rank)))
        if not len(ii):
            return
        cj, cs = np.nonzero(self.item >= 0)
        col = np.concatenate([jj, cj])
        kk = np.concatenate([key[ii, jj], self.key[cj, cs]])
        rr = np.concatenate([ranks[ii], self.rank[cj, cs]])
        it = np.concatenate([items[ii], self.item[cj, cs]])
        gg = np.concatenate([groups[ii], self.group[cj, cs]])
        order = np.lexsort((rr, kk, col))
        col, kk, rr, it, gg = col[order], kk[order], rr[order], it[order], gg[order]
        if self.distinct:  # the first item of each (column, group) in this order
            _, first = np.unique(col * (int(gg.max()) + 1) + gg, return_index=True)
            keep = np.zeros(len(col), dtype=bool)
            keep[first] = True
            col, kk, rr, it, gg = col[keep], kk[keep], rr[keep], it[keep], gg[keep]
        slot = np.arange(len(col)) - np.searchsorted(col, col, side="left")
        ok = slot < self.k
        col, slot = col[ok], slot[ok]
        self.key.fill(np.inf)
        self.rank.fill(_NO_RANK)
        self.item.fill(-1)
        self.group.fill(-1)
        self.key[col, slot], self.rank[col, slot], self.item[col, slot], self.group[col, slot] = (
            kk[ok], rr[ok], it[ok], gg[ok]
        )  # fmt: skip


def _streamed_extremes(
    acts, k: int, codes: np.ndarray | None, rank: np.ndarray, rows: np.ndarray | None, block: int | None
) -> dict[bool, TopItems]:
    """{largest: TopItems} of both sides in one pass over row blocks (plus one to count ties).

    ``codes`` [n] group of each kept item (None: plain top k); with fewer groups than k the
    passed-over items fill the rest in order (the plain top k holds them)."""
    n, d = n_rows(acts, rows), int(acts.shape[1])
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must lie in 1..{n} (the number of items)")
    few = codes is not None and len(np.unique(codes)) < k
    sides = {s: _Running(d, k, codes is not None) for s in (True, False)}
    plain = {s: _Running(d, k, False) for s in (True, False)} if few else {}
    for start, x in row_blocks(acts, rows, block):
        if np.isnan(x).any():
            raise ValueError("activations contain NaN; the dump is broken")
        items = np.arange(start, start + len(x), dtype=np.int64)
        r = rank[items]
        for largest in (True, False):
            key = -x if largest else x
            sides[largest].update(key, items, r, codes[items] if codes is not None else items)
            if few:
                plain[largest].update(key, items, r, items)
    out = {}
    for largest, run in sides.items():
        key, rk, item = run.key, run.rank, run.item
        if few:  # the group bests, then the first passed-over items of the plain order
            p = plain[largest]
            key, rk, item = key.copy(), rk.copy(), item.copy()
            for j in range(d):
                taken = item[j][item[j] >= 0]
                extra = [s for s in range(k) if p.item[j, s] not in set(taken.tolist())][: k - len(taken)]
                kj = np.concatenate([run.key[j, : len(taken)], p.key[j, extra]])
                rj = np.concatenate([run.rank[j, : len(taken)], p.rank[j, extra]])
                ij = np.concatenate([taken, p.item[j, extra]])
                o = np.lexsort((rj, kj))
                key[j], rk[j], item[j] = kj[o], rj[o], ij[o]
        values = -key if largest else key.copy()
        out[largest] = TopItems(item, values, np.zeros(d, dtype=np.int64))
    for _, x in row_blocks(acts, rows, block):  # items at each side's k-th value
        for t in out.values():
            t.tied[:] += (x == t.values[:, -1]).sum(axis=0)
    return out


def top_k_items(
    acts: np.ndarray,
    k: int,
    largest: bool = True,
    chunk: int | None = None,
    tie_rank: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> TopItems:
    """The k largest (or smallest) entries of each column.

    Per column the entries are ordered by value (descending for ``largest``), then by
    ``tie_rank`` (a permutation of 0..N-1; default: the item index), and the first k taken.
    ``acts`` is read in row blocks of ``chunk`` rows (:func:`row_blocks`; ``rows``: a boolean
    mask of the rows to use, indices then count the kept rows), keeping a running top k per
    column: memory D x k plus one block, whatever N.
    """
    if getattr(acts, "ndim", 2) != 2:
        raise ValueError(f"activations must be a matrix [items, neurons], got shape {np.shape(acts)}")
    n = n_rows(acts, rows)
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must lie in 1..{n} (the number of items)")
    rank = np.arange(n, dtype=np.int64)
    if tie_rank is not None:
        tie_rank = np.asarray(tie_rank, dtype=np.int64)
        if tie_rank.shape != (n,) or not np.array_equal(np.sort(tie_rank), np.arange(n)):
            raise ValueError("tie_rank must be a permutation of 0..N-1")
        rank = tie_rank
    return _streamed_extremes(acts, k, None, rank, rows, chunk)[largest]


def extremes(acts: np.ndarray, k: int, tie_seed: int | None = None) -> Extremes:
    """The top K and bottom K items of every neuron (see :func:`top_k_items`).

    ``tie_seed``: ties are broken by the permutation of the 'ties' stream of this seed
    (:func:`speechneurons.dissection.settings.rng`) instead of the item index.
    """
    rank = np.arange(len(acts)) if tie_seed is None else rng(tie_seed, "ties").permutation(len(acts))
    if getattr(acts, "ndim", 2) != 2:
        raise ValueError(f"activations must be a matrix [items, neurons], got shape {np.shape(acts)}")
    s = _streamed_extremes(acts, k, None, np.asarray(rank, dtype=np.int64), None, None)
    return Extremes(s[True].index, s[True].values, s[False].index, s[False].values, s[True].tied, s[False].tied)


def distinct_extremes(
    acts: np.ndarray,
    k: int,
    groups: Sequence,
    tie_seed: int | None = None,
    chunk: int | None = None,
    rows: np.ndarray | None = None,
) -> Extremes:
    """The top K and bottom K items of every neuron, at most one item per group (a speaker for
    utterance items, an utterance for phone items) while there are groups left: items are
    walked by activation (ties in the seeded order of :func:`extremes`) and an item whose
    group already has one is passed over; with fewer than K groups the passed-over items fill
    the rest in the same order. ``top_tied`` / ``bottom_tied``: items whose activation equals
    the K-th chosen one. On a GELU's floor every bottom item ties, so the bottom K are then a
    seeded draw among the tied items from distinct groups (:func:`floor_tied`).

    ``acts`` is read in row blocks of ``chunk`` rows (``rows``: a boolean mask of the rows that
    are items; ``groups`` and the returned indices count the kept rows): the walk's first K
    distinct groups are the K groups whose best items come first, so a running K per neuron
    (:class:`_Running`) finds them in one pass, plus one to count the ties; memory D x K plus
    one block, whatever the number of items."""
    if getattr(acts, "ndim", 2) != 2:
        raise ValueError(f"activations must be a matrix [items, neurons], got shape {np.shape(acts)}")
    n = n_rows(acts, rows)
    if not 1 <= k <= n:
        raise ValueError(f"k = {k} must lie in 1..{n} (the number of items)")
    codes, _ = pd.factorize(pd.Series(np.asarray(groups, dtype=object)))
    if len(codes) != n:
        raise ValueError(f"{len(codes)} groups for {n} items")
    rank = np.arange(n) if tie_seed is None else rng(tie_seed, "ties").permutation(n)
    s = _streamed_extremes(acts, k, codes.astype(np.int64), np.asarray(rank, dtype=np.int64), rows, chunk)
    return Extremes(s[True].index, s[True].values, s[False].index, s[False].values, s[True].tied, s[False].tied)


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


def utterance_means(acts: np.ndarray, utt_ids: Sequence[str], chunk: int | None = None) -> UtteranceMeans:
    """m[u, j] = (1 / n_u) * sum over rows r of utterance u of acts[r, j].

    ``utt_ids`` is row-aligned with ``acts``; rows of an utterance need not be contiguous.
    Accumulated in float64 in row order, ``acts`` read in row blocks of ``chunk`` rows
    (:func:`row_blocks`): memory U x D (the means) plus one block.
    """
    codes, uniques = pd.factorize(pd.Series(np.asarray(utt_ids, dtype=object)), sort=False)
    if len(codes) != len(acts):
        raise ValueError(f"index has {len(codes)} rows but the activations {len(acts)}")
    counts = np.bincount(codes, minlength=len(uniques))
    sums = np.zeros((len(uniques), int(acts.shape[1])), dtype=np.float64)
    for start, x in row_blocks(acts, None, chunk):
        np.add.at(sums, codes[start : start + len(x)], x.astype(np.float64))
    means = (sums / counts[:, None]).astype(np.float32)
    return UtteranceMeans(means, np.asarray(uniques, dtype=object), counts.astype(np.int64))
