"""Scores of the dissection: agreement with property neurons, and concept-specific pruning.

**Agreement.** The property-neuron statistic (``neurons.json``) puts some neurons in exactly one
group of a property (``exclusive_group_neurons``: phone type vowel / voiced_consonant /
unvoiced_consonant, gender F / M, pitch bin 0..n-1). Such a neuron's expected concept is
``phone_type=<g>``, ``gender=<g>`` or ``pitch=<bin name>``. Per property, over its labelled
neurons:

- ``within``: share whose best concept among the property's own columns is the expected one
  (chance ~ 1 / number of groups);
- ``top1``: share whose best concept overall is the expected one;
- ``topn``: share with the expected concept among the n best overall.

The null (:func:`agreement_null`) recomputes the same shares after permuting the rows of the
concept matrix across items (seeded), so that each concept keeps its frequency but loses its
link with the activations; p = (1 + #{null >= observed}) / (1 + #permutations).

**Concept-specific pruning** (AND, section 4.3). For each concept c with tagged neurons, a probe
gives logits before [N, C] and after zeroing c's neurons, after_c [N, C], on items with labels
y in 0..C-1. With drops d_c(i) = before[i, y_i] - after_c[i, y_i] (positive = the logit of
the item's own concept fell):

    dA_c = mean over items of c of d_c(i)
    dR_c = mean over concepts c' != c (with items) of the mean over items of c' of d_c(i)
    dA = mean_c dA_c,  dR = mean_c dR_c,  gap = dA - dR

The control zeroes, for each c, as many random neurons matched on activation rate
(:func:`speechneurons.stats.controls.matched_control`); :func:`bootstrap_pruning` gives percentile intervals of dA,
dR and the gap of both arms and of their difference, from the same resamples of the test
utterances (an utterance's items are resampled together: they are not independent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.dissection.concepts import (
    best_within,
    pmi_from_top,
    pmi_top_k,
    similarity,
    top_concepts,
    unit_columns,
)
from speechneurons.dissection.describe import bin_labels
from speechneurons.dissection.items import top_k_items
from speechneurons.dissection.settings import rng
from speechneurons.stats import percentile_interval, rank_p_value

PROPERTY_ATTRIBUTE = {"phone_type": "phone_type", "gender": "gender", "pitch": "pitch"}


# --------------------------------------------------------------------------- agreement


def property_truth(neurons: Mapping, n_pitch_bins: int) -> pd.DataFrame:
    """Expected concepts of the labelled neurons of a neurons.json document.

    Columns: neuron, property, group, concept ('attribute=value'); one row per (neuron,
    property) from ``exclusive_group_neurons`` (a neuron may be labelled by several properties).
    """
    rows = []
    pitch_names = bin_labels(n_pitch_bins)
    for prop, groups in neurons["exclusive_group_neurons"].items():
        if prop not in PROPERTY_ATTRIBUTE:
            continue
        for g, members in groups.items():
            if prop == "pitch" and not 0 <= int(g) < n_pitch_bins:
                raise ValueError(f"neurons.json has pitch group {g} but the pitch stage has {n_pitch_bins} bins")
            value = pitch_names[int(g)] if prop == "pitch" else g
            rows += [(int(j), prop, str(g), f"{PROPERTY_ATTRIBUTE[prop]}={value}") for j in members]
    return pd.DataFrame(rows, columns=["neuron", "property", "group", "concept"])


AGREEMENT_COLUMNS = ["property", "n", "within", "top1", "topn"]


def _agreement_plan(names: Sequence[str], truth: pd.DataFrame) -> list[tuple]:
    """Per property of ``truth``: (property, labelled rows j, expected columns, the property's columns)."""
    col = {n: i for i, n in enumerate(names)}
    attr_of = np.array([n.split("=", 1)[0] for n in names], dtype=object)
    plan = []
    for prop, t in truth.groupby("property", sort=False):
        cols = np.flatnonzero(attr_of == PROPERTY_ATTRIBUTE[prop])
        t = t[t["concept"].isin(col)]
        if not len(cols):
            t = t.iloc[:0]
        plan.append((prop, t["neuron"].to_numpy(), t["concept"].map(col).to_numpy(dtype=np.int64), cols))
    return plan


def _agreement_rows(sim: np.ndarray, plan: list[tuple], top_n: int) -> list[dict]:
    rows = []
    for prop, j, expected, cols in plan:
        if not len(j):
            rows.append({"property": prop, "n": 0, "within": np.nan, "top1": np.nan, "topn": np.nan})
            continue
        best = top_concepts(sim[j], top_n).index
        rows.append(
            {
                "property": prop,
                "n": len(j),
                "within": float((best_within(sim[j], cols) == expected).mean()),
                "top1": float((best[:, 0] == expected).mean()),
                "topn": float((best == expected[:, None]).any(axis=1).mean()),
            }
        )
    return rows


def agreement(sim: np.ndarray, names: Sequence[str], truth: pd.DataFrame, top_n: int = 3) -> pd.DataFrame:
    """Per property: n labelled neurons and the within / top1 / topn agreement shares (module docstring)."""
    return pd.DataFrame(_agreement_rows(sim, _agreement_plan(list(names), truth), top_n), columns=AGREEMENT_COLUMNS)


def agreement_null(
    acts: np.ndarray | None,
    concepts: np.ndarray,
    names: Sequence[str],
    truth: pd.DataFrame,
    similarity_name: str,
    seed: int,
    n_permutations: int,
    top_n: int = 3,
    columns: np.ndarray | None = None,
    top: np.ndarray | None = None,
) -> pd.DataFrame:
    """:func:`agreement` after each of ``n_permutations`` seeded permutations of the concept matrix's rows.

    Adds a 'permutation' column (0..n_permutations-1). With cos and cos3, which score each
    neuron on its own, only the labelled neurons are computed (``columns``: the neurons whose
    columns ``acts`` holds, sorted, when it holds only some, e.g. the labelled ones); wpmi and
    soft_wpmi need the whole layer (their prior p(c) averages over its neurons), but read only
    each neuron's top items: ``top`` [D, top_k] when the caller has them (``acts`` is then
    not read).
    """
    rows = []
    if similarity_name in ("cos", "cos3") and len(truth):
        neurons = np.unique(truth["neuron"].to_numpy())
        truth = truth.assign(neuron=np.searchsorted(neurons, truth["neuron"].to_numpy()))
        at = neurons if columns is None else np.searchsorted(columns, neurons)
        if columns is not None and not np.array_equal(np.asarray(columns)[at], neurons):
            raise ValueError("acts does not hold the columns of every labelled neuron")
        a = unit_columns(similarity_name, np.asarray(acts[:, at])).T
        c = unit_columns(similarity_name, concepts)
        sim_of = lambda perm: a @ c[perm]  # noqa: E731
    elif similarity_name in ("wpmi", "soft_wpmi") and len(truth):
        if top is None:
            top = top_k_items(acts, pmi_top_k(similarity_name, len(concepts))).index
        sim_of = lambda perm: pmi_from_top(similarity_name, top, concepts[perm])  # noqa: E731
    else:
        sim_of = lambda perm: similarity(similarity_name, acts, concepts[perm])  # noqa: E731
    plan = _agreement_plan(list(names), truth)
    for i in range(n_permutations if len(truth) else 0):
        perm = rng(seed, "agreement_null", i).permutation(len(concepts))
        rows += [r | {"permutation": i} for r in _agreement_rows(sim_of(perm), plan, top_n)]
    return pd.DataFrame(rows, columns=[*AGREEMENT_COLUMNS, "permutation"])


def agreement_report(observed: pd.DataFrame, null: pd.DataFrame, level: float) -> pd.DataFrame:
    """Observed shares next to the null's mean, sd, central ``level`` percentile range
    (``null_lo``, ``null_hi``) and the permutation p-value, per property and measure."""
    rows = []
    for _, o in observed.iterrows():
        nul = null[null["property"] == o["property"]]
        for m in ("within", "top1", "topn"):
            x = nul[m].to_numpy(dtype=float)
            lo, hi = percentile_interval(x, level)
            rows.append(
                {
                    "property": o["property"],
                    "measure": m,
                    "n": int(o["n"]),
                    "observed": o[m],
                    "null_mean": float(np.mean(x)) if len(x) else np.nan,
                    "null_sd": float(np.std(x, ddof=1)) if len(x) > 1 else np.nan,
                    "null_lo": lo,
                    "null_hi": hi,
                    "p": rank_p_value(o[m], x),
                }
            )
    columns = ["property", "measure", "n", "observed", "null_mean", "null_sd", "null_lo", "null_hi", "p"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- pruning


def _drops(before: np.ndarray, after: Mapping[int, np.ndarray], labels: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Pruned concepts and their per-item drops [len(concepts), N] of each item's own logit."""
    concepts = sorted(int(c) for c in after)
    rows = np.arange(len(labels))
    own_before = before[rows, labels]
    drops = (
        np.stack([own_before - np.asarray(after[c])[rows, labels] for c in concepts])
        if concepts
        else np.zeros((0, len(labels)))
    )
    return concepts, drops


def _effect_from_means(means: np.ndarray, concepts: Sequence[int], present: Sequence[int]) -> tuple[np.ndarray, ...]:
    """dA_c and dR_c [..., P] from class means [..., P pruned concepts, K item concepts]."""
    pos = {c: i for i, c in enumerate(present)}
    own = np.array([pos[c] for c in concepts], dtype=np.int64)
    dA_c = means[..., np.arange(len(concepts)), own]
    dR_c = (means.sum(axis=-1) - dA_c) / max(len(present) - 1, 1)
    return dA_c, dR_c


def bootstrap_pruning(
    before: np.ndarray,
    after_tagged: Mapping[int, np.ndarray],
    after_control: Mapping[int, np.ndarray],
    labels: np.ndarray,
    units: np.ndarray,
    resamples: int,
    level: float,
    seed: int,
) -> pd.DataFrame:
    """dA, dR and dA - dR of tagged and control pruning, and their difference, with percentile
    intervals from a bootstrap over ``units`` (the test utterances: items of one utterance are
    resampled together); the same resamples serve both arms (paired).

    Returns one row per (concept, arm): concept (a pruned concept, or -1 for the mean over the
    pruned concepts), arm ('tagged', 'control', 'difference' = tagged - control), dA, dA_lo,
    dA_hi, dR, dR_lo, dR_hi, gap, gap_lo, gap_hi. ``after_control`` must prune the same concepts.
    """
    labels = np.asarray(labels, dtype=np.int64)
    if sorted(after_tagged) != sorted(after_control):
        raise ValueError("tagged and control pruning must cover the same concepts")
    present = sorted(set(labels.tolist()))
    concepts, d_t = _drops(np.asarray(before), after_tagged, labels)
    _, d_c = _drops(np.asarray(before), after_control, labels)
    missing = [c for c in concepts if c not in present]
    if missing:
        raise ValueError(f"pruned concepts {missing} have no items")
    codes, _ = pd.factorize(pd.Series(np.asarray(units)), sort=True)
    n_units, n_classes = int(codes.max()) + 1, len(present)
    cell = codes * n_classes + np.searchsorted(present, labels)
    counts = np.bincount(cell, minlength=n_units * n_classes).reshape(n_units, n_classes).astype(float)
    sums = {
        arm: np.stack([np.bincount(cell, weights=row, minlength=n_units * n_classes) for row in d])
        .reshape(len(concepts), n_units, n_classes)
        for arm, d in (("tagged", d_t), ("control", d_c))
    }  # fmt: skip
    weights = np.ones((1, n_units))
    if resamples:
        weights = np.vstack(
            [weights, rng(seed, "bootstrap").multinomial(n_units, np.full(n_units, 1 / n_units), resamples)]
        )
    effects = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        for arm, s in sums.items():
            means = np.einsum("bu,puk->bpk", weights, s) / (weights @ counts)[:, None, :]  # [1 + B, P, K]
            dA_c, dR_c = _effect_from_means(means, concepts, present)
            effects[arm] = (dA_c, dR_c)
    effects["difference"] = tuple(t - c for t, c in zip(effects["tagged"], effects["control"]))
    rows = []
    for arm, (dA_c, dR_c) in effects.items():
        per = [(c, dA_c[:, p], dR_c[:, p]) for p, c in enumerate(concepts)]
        if concepts:
            per.append((-1, dA_c.mean(axis=1), dR_c.mean(axis=1)))
        for c, dA, dR in per:
            row = {"concept": c, "arm": arm}
            for name, x in (("dA", dA), ("dR", dR), ("gap", dA - dR)):
                lo, hi = percentile_interval(x[1:], level)
                row |= {name: float(x[0]), f"{name}_lo": lo, f"{name}_hi": hi}
            rows.append(row)
    columns = ["concept", "arm"] + [f"{m}{s}" for m in ("dA", "dR", "gap") for s in ("", "_lo", "_hi")]
    return pd.DataFrame(rows, columns=columns)
