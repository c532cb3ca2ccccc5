"""Closed-concept identification: the item x concept matrix and CLIP-Dissect's similarities.

A *concept* is one value of one attribute, named ``attribute=value`` (``phone_type=vowel``,
``gender=F``, ``pitch=high``, ``loudness=low``, ...). The concept matrix C [N items, M concepts]
has C[i, c] = 1 when item i has value c, else 0 (an item whose attribute is None, e.g. the
pitch of an unvoiced segment, has no concept of that attribute).

The similarity between neuron j's activations a[:, j] over items and concept column C[:, c]
follows CLIP-Dissect (Oikarinen & Weng, ICLR 2023; their ``similarity.py``), where C plays the
role of the CLIP image-text similarity matrix. All four functions return S [D, M]; constants
are CLIP-Dissect's defaults:

- ``cos``  (``cos_similarity``): S = (a / ||a||)^T (C / ||C||), norms over items. CLIP-Dissect
  divides by the raw norm; here a zero column gives 0 instead of NaN.
- ``cos3`` (``cos_similarity_cubed``): centre each column over items, cube it elementwise,
  divide by max(||.||_2, min_norm = 1e-3), then the dot product as for cos.
- ``wpmi`` (``wpmi``; a = 2, top_k = 28, lam = 0.6, min_prob = 1e-7): P = softmax_c(a * C) per
  item; for the top_k items T_j of neuron j, log p(c | j) = sum_{i in T_j} log(P[i, c] +
  min_prob); log p(c) = logsumexp_j log p(c | j) - log D over the D neurons of the layer;
  S[j, c] = log p(c | j) - lam * log p(c).
- ``soft_wpmi`` (``soft_wpmi``; a = 10, top_k = 100, lam = 1, min_prob = 1e-7, p_start =
  0.998, p_end = 0.97): as wpmi, with the r-th item of T_j (r = 0..top_k-1) counted with
  weight p_r = p_start - r / top_k * (p_start - p_end): log p(c | j) = sum_r log(1 + p_r
  (P[i_r, c] - 1) + min_prob).

top_k is capped at the number of items; T_j is chosen with the deterministic tie rule of
:func:`speechneurons.dissection.items.top_k_items`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.special import logsumexp, softmax

from speechneurons.dissection.items import n_rows, row_blocks, top_k_items
from speechneurons.phones import PHONE_TYPES, PHONES

MIN_NORM = 1e-3
WPMI = {"a": 2.0, "top_k": 28, "lam": 0.6, "min_prob": 1e-7}
SOFT_WPMI = {"a": 10.0, "top_k": 100, "lam": 1.0, "min_prob": 1e-7, "p_start": 0.998, "p_end": 0.97}

_BIN_ORDER = ("lowest", "low", "mid-low", "mid", "mid-high", "high", "highest")
_VALUE_ORDER = {
    "phone": PHONES,
    "prev_phone": PHONES + ("sil", "spn"),
    "next_phone": PHONES + ("sil", "spn"),
    "phone_type": tuple(PHONE_TYPES),
    "prev_phone_type": tuple(PHONE_TYPES) + ("silence",),
    "next_phone_type": tuple(PHONE_TYPES) + ("silence",),
    "word_position": ("initial", "medial", "final", "single"),
    "voicing": ("voiced", "unvoiced"),
    "gender": ("F", "M"),
}


def value_order(attribute: str, values: Sequence[str]) -> list[str]:
    """The values of an attribute in a canonical order (phones in ARPAbet table order, bins low to high)."""
    order = _VALUE_ORDER.get(attribute)
    present = set(values)
    if order is None and present <= set(_BIN_ORDER):
        order = _BIN_ORDER
    if order is None:
        return sorted(present)
    return [v for v in order if v in present] + sorted(present - set(order))


class ConceptMatrix(NamedTuple):
    """Items x concepts indicator matrix."""

    matrix: np.ndarray
    """[N, M] float32: 1 where item i has concept c."""
    names: list[str]
    """[M] concept names 'attribute=value'."""
    attribute: np.ndarray
    """[M] object: the attribute of each concept."""


def concept_matrix(table: pd.DataFrame, attributes: Sequence[str], names: Sequence[str] | None = None) -> ConceptMatrix:
    """One column per value present of each attribute of ``attributes`` that the table has.

    With ``names`` ('attribute=value'), exactly those columns in that order instead (a value no
    item has gives a column of zeros): the columns of other items, e.g. the held-out ones.
    """
    if names is not None:
        attrs = [n.split("=", 1)[0] for n in names]
        missing = sorted({a for a in attrs if a not in table})
        if missing:
            raise ValueError(f"the item table has no attribute {missing}")
        cols = [table[a].to_numpy(dtype=object) == n.split("=", 1)[1] for a, n in zip(attrs, names)]
        matrix = np.column_stack(cols).astype(np.float32) if cols else np.zeros((len(table), 0), np.float32)
        return ConceptMatrix(matrix, list(names), np.array(attrs, dtype=object))
    cols, names, attrs = [], [], []
    for attr in attributes:
        if attr not in table:
            continue
        v = table[attr].to_numpy(dtype=object)
        present = [x for x in pd.unique(v) if x is not None and x == x]
        for value in value_order(attr, [str(x) for x in present]):
            cols.append(v == value)
            names.append(f"{attr}={value}")
            attrs.append(attr)
    if not cols:
        raise ValueError(f"none of the attributes {list(attributes)} is in the item table")
    return ConceptMatrix(np.column_stack(cols).astype(np.float32), names, np.array(attrs, dtype=object))


# --------------------------------------------------------------------------- similarities


def _unit_columns(x: np.ndarray, min_norm: float) -> np.ndarray:
    norm = np.linalg.norm(x, axis=0, keepdims=True)
    return x / np.maximum(norm, min_norm)


def unit_columns(name: str, x: np.ndarray) -> np.ndarray:
    """The columns of ``x`` [items, n] as cos and cos3 compare them: unit columns (cos), or
    centred, cubed unit columns with norms clipped below at MIN_NORM (cos3). Each column is
    transformed on its own and a permutation of the rows commutes with the transform, so a
    permutation null can permute the rows of the result."""
    x = np.asarray(x, dtype=np.float64)
    if name == "cos":
        return _unit_columns(x, 1e-12)
    if name == "cos3":
        x = x - x.mean(axis=0, keepdims=True)
        return _unit_columns(x * x * x, MIN_NORM)
    raise ValueError(f"unit_columns is defined for cos and cos3, not {name!r}")


def _cosine(name: str, acts: np.ndarray, concepts: np.ndarray, chunk: int | None, rows: np.ndarray | None = None
            ) -> np.ndarray:  # fmt: skip
    """cos / cos3 from row blocks of ``acts`` (:func:`speechneurons.dissection.items.row_blocks`):
    the sums x^T c and x^T x of each column (for cos3 after a first pass for the column means)
    are accumulated in float64, so memory is D x M plus one block of ``chunk`` rows."""
    c = unit_columns(name, concepts)
    n, d = n_rows(acts, rows), int(acts.shape[1])
    if len(c) != n:
        raise ValueError(f"{n} activation rows but {len(c)} concept rows")
    mean = np.zeros(d)
    if name == "cos3":
        for _, x in row_blocks(acts, rows, chunk):
            mean += x.sum(axis=0, dtype=np.float64)
        mean /= max(n, 1)
    xtc, sq = np.zeros((d, c.shape[1])), np.zeros(d)
    for start, x in row_blocks(acts, rows, chunk):
        y = x.astype(np.float64)
        if name == "cos3":
            y -= mean
            y = y * y * y
        xtc += y.T @ c[start : start + len(y)]
        sq += np.einsum("ij,ij->j", y, y)
    norm = np.maximum(np.sqrt(sq), MIN_NORM if name == "cos3" else 1e-12)
    return (xtc / norm[:, None]).astype(np.float32)


def cos_similarity(acts: np.ndarray, concepts: np.ndarray, chunk: int | None = None, rows=None) -> np.ndarray:
    """S[j, c] = cosine of a[:, j] and C[:, c] over items (CLIP-Dissect ``cos_similarity``);
    ``acts`` read in row blocks of ``chunk`` rows (``rows``: a boolean mask of the item rows)."""
    return _cosine("cos", acts, concepts, chunk, rows)


def cos_similarity_cubed(acts: np.ndarray, concepts: np.ndarray, chunk: int | None = None, rows=None) -> np.ndarray:
    """S[j, c] = cos(centre(a_j)^3, centre(C_c)^3), norms clipped below at MIN_NORM (CLIP-Dissect).

    Every column is centred, cubed and normalised on its own; ``acts`` is read in row blocks of
    ``chunk`` rows (two passes: the means, then the sums).
    """
    return _cosine("cos3", acts, concepts, chunk, rows)


def _log_p_given_neuron(
    top: np.ndarray, probs: np.ndarray, weights: np.ndarray | None, min_prob: float, chunk: int = 64
) -> np.ndarray:
    """log p(c | j) [D, M] summed over each neuron's top items ``top`` [D, top_k] (see module docstring)."""
    d, m = top.shape[0], probs.shape[1]
    out = np.empty((d, m), dtype=np.float64)
    log_probs = np.log(probs + min_prob) if weights is None else None
    for lo in range(0, d, chunk):
        rows = top[lo : lo + chunk]  # [chunk, top_k]
        if weights is None:
            out[lo : lo + chunk] = log_probs[rows].sum(axis=1)
        else:
            g = probs[rows]  # [chunk, top_k, M]
            out[lo : lo + chunk] = np.log(1.0 + weights[None, :, None] * (g - 1.0) + min_prob).sum(axis=1)
    return out


def pmi_top_k(name: str, n_items: int) -> int:
    """The number of top items per neuron that wpmi / soft_wpmi read (capped at the items)."""
    return min(int((WPMI if name == "wpmi" else SOFT_WPMI)["top_k"]), n_items)


def pmi_from_top(name: str, top: np.ndarray, concepts: np.ndarray) -> np.ndarray:
    """wpmi / soft_wpmi with CLIP-Dissect's constants from each neuron's top items ``top``
    [D, top_k] (:func:`pmi_top_k`, the items' order of :func:`top_k_items`): all they read of
    the activations, so a permutation null of the concepts reuses them."""
    if name == "wpmi":
        probs = softmax(WPMI["a"] * np.asarray(concepts, dtype=np.float64), axis=1)
        return _pmi(_log_p_given_neuron(top, probs, None, WPMI["min_prob"]), WPMI["lam"])
    if name == "soft_wpmi":
        s = SOFT_WPMI
        probs = softmax(s["a"] * np.asarray(concepts, dtype=np.float64), axis=1)
        weights = s["p_start"] - np.arange(top.shape[1]) / s["top_k"] * (s["p_start"] - s["p_end"])
        return _pmi(_log_p_given_neuron(top, probs, weights, s["min_prob"]), s["lam"])
    raise ValueError(f"pmi_from_top is defined for wpmi and soft_wpmi, not {name!r}")


def _pmi(log_p_c_j: np.ndarray, lam: float) -> np.ndarray:
    d = log_p_c_j.shape[0]
    log_p_c = logsumexp(log_p_c_j, axis=0, keepdims=True) - np.log(d)
    return (log_p_c_j - lam * log_p_c).astype(np.float32)


def wpmi(
    acts: np.ndarray,
    concepts: np.ndarray,
    top_k: int = WPMI["top_k"],
    a: float = WPMI["a"],
    lam: float = WPMI["lam"],
    min_prob: float = WPMI["min_prob"],
) -> np.ndarray:
    """CLIP-Dissect's WPMI: S = log p(c | j) - lam * log p(c) with P = softmax_c(a * C)."""
    probs = softmax(a * np.asarray(concepts, dtype=np.float64), axis=1)
    k = min(int(top_k), len(probs))
    return _pmi(_log_p_given_neuron(top_k_items(acts, k, largest=True).index, probs, None, min_prob), lam)


def soft_wpmi(
    acts: np.ndarray,
    concepts: np.ndarray,
    top_k: int = SOFT_WPMI["top_k"],
    a: float = SOFT_WPMI["a"],
    lam: float = SOFT_WPMI["lam"],
    min_prob: float = SOFT_WPMI["min_prob"],
    p_start: float = SOFT_WPMI["p_start"],
    p_end: float = SOFT_WPMI["p_end"],
) -> np.ndarray:
    """CLIP-Dissect's SoftWPMI: WPMI with the r-th top item weighted by p_r (linear p_start -> p_end).

    p_r uses CLIP-Dissect's top_k (100) in its slope even when fewer items exist, so the weights of
    the first items do not depend on the corpus size.
    """
    probs = softmax(a * np.asarray(concepts, dtype=np.float64), axis=1)
    k = min(int(top_k), len(probs))
    weights = p_start - np.arange(k) / top_k * (p_start - p_end)
    return _pmi(_log_p_given_neuron(top_k_items(acts, k, largest=True).index, probs, weights, min_prob), lam)


SIMILARITIES: Mapping[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "cos": cos_similarity,
    "cos3": cos_similarity_cubed,
    "wpmi": wpmi,
    "soft_wpmi": soft_wpmi,
}


def similarity(name: str, acts: np.ndarray, concepts: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """S [D, M] of the named similarity function with CLIP-Dissect's constants; ``acts`` is read
    in row blocks (an array, a memory map or :class:`speechneurons.io.NpyRows`), ``rows``: a
    boolean mask of its rows that are the items (row-aligned with ``concepts``)."""
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}; choose one of {sorted(SIMILARITIES)}")
    if name in ("cos", "cos3"):
        return SIMILARITIES[name](acts, concepts, rows=rows)
    return pmi_from_top(name, top_k_items(acts, pmi_top_k(name, len(concepts)), rows=rows).index, concepts)


class TopConcepts(NamedTuple):
    """The best concepts of every neuron."""

    index: np.ndarray
    """[D, n] int64: concept columns, highest similarity first (ties: lower column first)."""
    score: np.ndarray
    """[D, n] float32: their similarities."""


def top_concepts(sim: np.ndarray, n: int) -> TopConcepts:
    """The n highest-scoring concepts of each neuron (row of ``sim``)."""
    n = min(n, sim.shape[1])
    order = np.argsort(-sim, axis=1, kind="stable")[:, :n]
    return TopConcepts(order, np.take_along_axis(sim, order, axis=1).astype(np.float32))


def best_within(sim: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """[D] column (from ``columns``) with the highest similarity per neuron (ties: first listed)."""
    columns = np.asarray(columns, dtype=np.int64)
    return columns[np.argmax(sim[:, columns], axis=1)]
