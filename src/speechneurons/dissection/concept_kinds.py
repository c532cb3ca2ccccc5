"""What a dissected neuron is about, in AND's terms (Wu et al. 2024): basic acoustic attributes
or linguistic units, and how many concepts it responds to.

AND states that acoustic models discriminate audio by combinations of basic acoustic features
rather than abstract concepts, and that supervised training narrows neurons' attention while
self-supervised training leaves them polysemantic. Two measures of the dissection tables read
those statements here:

- :func:`concept_classes` / :func:`acoustic_minus_linguistic`: among the interpretable neurons
  of a layer, the share whose top concept (``concepts`` of ``neurons.tsv``, first entry) is of an
  acoustic attribute minus the share whose top concept is of a linguistic one; and the same for
  the description (the attributes the top items share, ``side = top`` of ``shared.tsv``: a
  description names acoustic / linguistic when any of its attributes is one). Speaker attributes
  (gender, speaker, speaking rate) are neither. Interval: bootstrap over neurons.
- :func:`polysemanticity`: the number of concepts whose similarity to a neuron is at least
  ``fraction`` of the neuron's best (``similarity.npz``); a neuron with no positive similarity
  has 0. :func:`paired_difference` compares two models neuron by neuron (same layer, same
  index) with a bootstrap over neuron indices.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from speechneurons.stats import percentile_interval, resample_index

ACOUSTIC = ("loudness", "pitch", "brightness", "tilt", "voicing", "duration")
"""Basic acoustic attributes (AND's 'basic acoustic features')."""
LINGUISTIC = (
    "phone",
    "phone_type",
    "word",
    "word_position",
    "prev_phone",
    "next_phone",
    "prev_phone_type",
    "next_phone_type",
)
"""Linguistic units: the phone, its class, its neighbours, the word and the position in it."""
CLASSES = ("acoustic", "linguistic", "other")
BASES = ("top_concept", "description")


def attribute_class(attribute: str) -> str:
    """'acoustic', 'linguistic' or 'other' (speaker attributes: gender, speaker, rate)."""
    if attribute in ACOUSTIC:
        return "acoustic"
    if attribute in LINGUISTIC:
        return "linguistic"
    return "other"


def _first_attribute(concepts) -> str | None:
    """The attribute of the first entry of a ``concepts`` cell ('phone=AA;pitch=high' -> 'phone')."""
    if not isinstance(concepts, str) or not concepts.strip():
        return None
    return concepts.split(";")[0].split("=")[0].strip()


def concept_classes(neurons: pd.DataFrame, shared: pd.DataFrame | None, kind: str = "phone") -> pd.DataFrame:
    """One row per interpretable neuron of ``kind`` (columns layer, neuron, top_class,
    desc_acoustic, desc_linguistic): the class of its top concept, and whether its description
    names an acoustic / a linguistic attribute. ``neurons``: rows of neurons.tsv (one or several
    layers); ``shared``: rows of shared.tsv (None: no description classes, both False)."""
    missing = {"layer", "kind", "neuron", "interpretable", "concepts"} - set(neurons.columns)
    if missing:
        raise ValueError(f"neurons table lacks columns {sorted(missing)}")
    rows = neurons[(neurons["kind"] == kind) & neurons["interpretable"].astype(str).str.lower().eq("true")]
    out = pd.DataFrame(
        {
            "layer": rows["layer"].astype(int).to_numpy(),
            "neuron": rows["neuron"].astype(int).to_numpy(),
            "top_class": [attribute_class(a) if a else "other" for a in map(_first_attribute, rows["concepts"])],
        }
    )
    out["desc_acoustic"] = False
    out["desc_linguistic"] = False
    if shared is not None and len(shared) and len(out):
        top = shared[(shared["kind"] == kind) & (shared["side"] == "top")]
        cls = top.assign(c=top["attribute"].map(attribute_class))
        by = cls.groupby([cls["layer"].astype(int), cls["neuron"].astype(int)])["c"].agg(set)
        key = list(zip(out["layer"], out["neuron"], strict=True))
        names = [by.get(k, set()) for k in key]
        out["desc_acoustic"] = ["acoustic" in s for s in names]
        out["desc_linguistic"] = ["linguistic" in s for s in names]
    return out


def _indicators(classes: pd.DataFrame, basis: str) -> tuple[np.ndarray, np.ndarray]:
    if basis == "top_concept":
        return (classes["top_class"] == "acoustic").to_numpy(float), (classes["top_class"] == "linguistic").to_numpy(
            float
        )
    if basis == "description":
        return classes["desc_acoustic"].to_numpy(float), classes["desc_linguistic"].to_numpy(float)
    raise ValueError(f"basis must be one of {BASES}, got {basis!r}")


def _shares(a: np.ndarray, li: np.ndarray, resamples: int, seed, level: float) -> dict:
    n = len(a)
    if n == 0:
        nan = float("nan")
        return dict(n=0, acoustic=nan, linguistic=nan, effect=nan, ci_low=nan, ci_high=nan)
    d = a - li
    idx = resample_index(n, resamples, seed)
    lo, hi = percentile_interval(d[idx].mean(axis=1), level)
    return dict(n=n, acoustic=float(a.mean()), linguistic=float(li.mean()), effect=float(d.mean()), ci_low=lo,
                ci_high=hi)  # fmt: skip


def acoustic_minus_linguistic(
    classes: pd.DataFrame, basis: str, resamples: int, seed: int, level: float
) -> pd.DataFrame:
    """Per layer and pooled over layers (layer = -1): the interpretable neurons ``n``, the shares
    ``acoustic`` and ``linguistic`` (fractions) of ``basis`` ('top_concept' or 'description') and
    ``effect`` = acoustic - linguistic with its percentile bootstrap interval over neurons
    (``resamples`` draws, seeded; the pooled row resamples the neurons of every layer)."""
    rows = []
    for layer, g in classes.groupby("layer", sort=True):
        rows.append(dict(layer=int(layer), **_shares(*_indicators(g, basis), resamples, [seed, int(layer)], level)))
    rows.append(dict(layer=-1, **_shares(*_indicators(classes, basis), resamples, [seed, 10_000], level)))
    return pd.DataFrame(rows, columns=["layer", "n", "acoustic", "linguistic", "effect", "ci_low", "ci_high"])


def polysemanticity(similarity: np.ndarray, fraction: float) -> np.ndarray:
    """int [neurons]: the concepts whose similarity is at least ``fraction`` of the neuron's best
    (0 < fraction <= 1); 0 for a neuron whose best similarity is not positive."""
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1], got {fraction}")
    sim = np.asarray(similarity, dtype=np.float64)
    if sim.ndim != 2:
        raise ValueError(f"similarity must be [neurons, concepts], got shape {sim.shape}")
    sim = np.where(np.isfinite(sim), sim, -np.inf)
    best = sim.max(axis=1, initial=-np.inf)
    count = (sim >= fraction * best[:, None]).sum(axis=1)
    return np.where(best > 0, count, 0).astype(np.int64)


def paired_difference(a: np.ndarray, b: np.ndarray, resamples: int, seed, level: float) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired units (the same neuron in two models) with its percentile
    bootstrap interval over units; NaNs when there is no pair."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired arrays differ in shape: {a.shape} and {b.shape}")
    d = a - b
    if d.size == 0:
        return float("nan"), float("nan"), float("nan")
    idx = resample_index(d.size, resamples, seed)
    lo, hi = percentile_interval(d[idx].mean(axis=1), level)
    return float(d.mean()), lo, hi


def depth_slope(layers: Sequence[int], values: np.ndarray) -> float:
    """Least-squares slope of ``values`` over ``layers`` (per layer); NaN with fewer than 2 layers."""
    x = np.asarray(layers, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def twin_depth_trend(
    layers: Sequence[int],
    a_interpretable: Sequence[np.ndarray],
    b_interpretable: Sequence[np.ndarray],
    resamples: int,
    seed: int,
    level: float,
) -> tuple[float, float, float]:
    """Slope over depth of model a's interpretable share minus model b's (points per layer), with
    a paired bootstrap over neurons: in every resample each layer's neuron indices are drawn with
    replacement and the same draw serves both models (neuron i of a layer of a is paired with
    neuron i of the same layer of b). NaNs with fewer than 2 layers."""
    layers = [int(x) for x in layers]
    if len(layers) < 2:
        return float("nan"), float("nan"), float("nan")
    obs, boot = [], []
    for layer, a, b in zip(layers, a_interpretable, b_interpretable, strict=True):
        d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
        if d.size == 0:
            raise ValueError(f"layer {layer} has no neuron")
        obs.append(d.mean())
        boot.append(d[resample_index(d.size, resamples, [seed, layer])].mean(axis=1))
    x = np.asarray(layers, dtype=np.float64) - np.mean(layers)
    w = x / np.sum(x**2)
    value = 100 * float(w @ np.asarray(obs))
    lo, hi = percentile_interval(100 * (w @ np.vstack(boot)), level)
    return value, lo, hi
