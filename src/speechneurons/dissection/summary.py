"""Open-concept summary: what a neuron's top items share that its bottom items lack.

For neuron j with top items T_j and bottom items B_j (|T_j| = |B_j| = K) and an attribute value
v (e.g. phone_type=vowel, word=THE, speaker=f_slt):

    n_top(v) = |{i in T_j : item i has v}|,   n_bottom(v) = |{i in B_j : item i has v}|

v describes the neuron's top when n_top(v) >= K' (``min_shared``) and n_bottom(v) <=
``max_bottom_shared``; symmetrically v describes its bottom when n_bottom(v) >= K' and
n_top(v) <= max_bottom_shared. Every attribute of the items takes part (words and speakers
too). A neuron whose top is described by no value is **uninterpretable** (AND's calibration
step, with discrete attributes in place of sentence embeddings).

A chance level comes from :func:`uninterpretable_null`: the same summary after the item
attributes are permuted across items (each neuron keeps its top and bottom item slots).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from speechneurons.dissection.concepts import value_order
from speechneurons.dissection.settings import rng

SHARED_COLUMNS = ["neuron", "side", "attribute", "value", "n_top", "n_bottom"]


class OpenSummary(NamedTuple):
    """The open-concept summary of every neuron of a layer."""

    shared: pd.DataFrame
    """One row per (neuron, side, attribute value) that describes it: neuron, side ('top' or
    'bottom'), attribute, value, n_top, n_bottom; ordered by neuron, side, attribute order, value."""
    interpretable: np.ndarray
    """[D] bool: at least one value describes the neuron's top."""
    n_shared: np.ndarray
    """[D] int64: values describing the top."""
    n_bottom_shared: np.ndarray
    """[D] int64: values describing the bottom."""


def _codes(table: pd.DataFrame, attribute: str) -> tuple[np.ndarray, list[str]]:
    v = table[attribute].to_numpy(dtype=object)
    ok = np.array([x is not None and x == x for x in v], dtype=bool)
    values = value_order(attribute, [str(x) for x in pd.unique(v[ok])])
    lookup = {x: i for i, x in enumerate(values)}
    codes = np.full(len(v), -1, dtype=np.int64)
    codes[ok] = [lookup[str(x)] for x in v[ok]]
    return codes, values


def _counts(codes: np.ndarray, items: np.ndarray, n_values: int) -> np.ndarray:
    """[D, V] counts of each value among each neuron's items (code -1 = no value)."""
    c = codes[items]  # [D, K]
    d = items.shape[0]
    flat = (np.arange(d)[:, None] * (n_values + 1) + (c + 1)).ravel()
    return np.bincount(flat, minlength=d * (n_values + 1)).reshape(d, n_values + 1)[:, 1:]


def _summarize_codes(
    codes: dict[str, tuple[np.ndarray, list[str]]],
    top: np.ndarray,
    bottom: np.ndarray,
    min_shared: int,
    max_bottom_shared: int,
    with_table: bool = True,
):
    d = top.shape[0]
    n_top_desc = np.zeros(d, dtype=np.int64)
    n_bot_desc = np.zeros(d, dtype=np.int64)
    rows = []
    for rank, (attr, (c, values)) in enumerate(codes.items()):
        if not values:
            continue
        ct, cb = _counts(c, top, len(values)), _counts(c, bottom, len(values))
        top_desc = (ct >= min_shared) & (cb <= max_bottom_shared)
        bot_desc = (cb >= min_shared) & (ct <= max_bottom_shared)
        n_top_desc += top_desc.sum(axis=1)
        n_bot_desc += bot_desc.sum(axis=1)
        if with_table:
            for side, mask in (("top", top_desc), ("bottom", bot_desc)):
                j, v = np.nonzero(mask)
                rows.append(
                    pd.DataFrame(
                        {
                            "neuron": j,
                            "side": side,
                            "rank": rank,
                            "attribute": attr,
                            "value": np.array(values, dtype=object)[v],
                            "n_top": ct[j, v],
                            "n_bottom": cb[j, v],
                        }
                    )
                )
    return n_top_desc, n_bot_desc, rows


def open_summary(
    table: pd.DataFrame,
    attributes: Sequence[str],
    top: np.ndarray,
    bottom: np.ndarray,
    min_shared: int,
    max_bottom_shared: int,
) -> OpenSummary:
    """The values shared by >= min_shared of the top items and <= max_bottom_shared of the bottom ones.

    ``top``/``bottom``: [D, K] item indices (rows of ``table``); ``attributes``: its attribute
    columns, in the order descriptions should use them.
    """
    codes = {a: _codes(table, a) for a in attributes if a in table}
    n_top, n_bot, rows = _summarize_codes(codes, top, bottom, min_shared, max_bottom_shared)
    shared = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=SHARED_COLUMNS + ["rank"])
    side_order = shared["side"].map({"top": 0, "bottom": 1})
    shared = (
        shared.assign(_side=side_order)
        .sort_values(["neuron", "_side", "rank", "n_top"], kind="stable")
        .drop(columns=["_side", "rank"])
        .reset_index(drop=True)
    )
    shared = shared.astype({"neuron": np.int64, "n_top": np.int64, "n_bottom": np.int64})
    return OpenSummary(shared[SHARED_COLUMNS], n_top > 0, n_top, n_bot)


def uninterpretable_null(
    table: pd.DataFrame,
    attributes: Sequence[str],
    top: np.ndarray,
    bottom: np.ndarray,
    min_shared: int,
    max_bottom_shared: int,
    seed: int,
    n_permutations: int,
    permutation: Callable[[np.random.Generator], np.ndarray] | None = None,
) -> np.ndarray:
    """Uninterpretable share of the layer after each of ``n_permutations`` seeded permutations of the items.

    Permuting whole rows keeps each item's attributes together (a phone keeps its type), so the
    null breaks only the link between activations and items. ``permutation(generator)`` draws
    one permutation (default: a free one over all items; see
    :func:`speechneurons.dissection.nulls.uninterpretable_null_by_speaker`).
    """
    draw = permutation or (lambda gen: gen.permutation(len(table)))
    codes = {a: _codes(table, a) for a in attributes if a in table}
    out = []
    for i in range(n_permutations):
        perm = draw(rng(seed, "uninterpretable_null", i))
        shuffled = {a: (c[perm], v) for a, (c, v) in codes.items()}
        n_top, _, _ = _summarize_codes(shuffled, top, bottom, min_shared, max_bottom_shared, with_table=False)
        out.append(float(np.mean(n_top == 0)))
    return np.array(out)
