"""Random neuron sets matched to a set of interest: the same size per layer AND the same
distribution of activation rate, matched by NEAREST rate with a balance criterion (the one
implementation of matched controls: experiments, dissection concept pruning and the SAE
erasures all draw theirs here).

A neuron's activation rate is the share of frames at which it is *activated*, among the top
tau neurons of its layer (:mod:`speechneurons.activated`, the one definition); its chance
value is tau / D. Property neurons fire far more often than a uniform random neuron, so a
control drawn uniformly (:func:`uniform_random`, kept to show what matching changes) would mix
"silencing selective neurons" with "silencing busy neurons".

Decile bins of activation rate are too coarse for a heavy-tailed rate: on the default run the
protect control's rate distribution was 0.20-0.46 (Kolmogorov-Smirnov distance) away from the
property neurons', and the erasure controls up to 1.0. Here each neuron of the set, the highest
rates first (they are the scarce ones), gets a control neuron drawn uniformly among the
``neighbours`` pool neurons whose rates are nearest to its own (pool: outside the set, outside
``exclude``, not drawn yet). ``neighbours`` = 1 is the deterministic nearest match; a few give
different draws whose rates stay close. A draw outside the balance criterion is drawn again.

Balance: the KS distance between the rate distributions of the set and of its control must be
below ``target`` (0.1). Two samples of n distinct values cannot come closer than 1 / n, so a
set of fewer than 1 / target neurons passes at KS <= 1 / n (:func:`ks_target`) when its mean
rate also agrees within ``target`` of the set's (:func:`is_balanced`); the target used is
reported beside each control (:func:`balance_table`).

Nothing heavy is imported: rules/experiments.smk imports :class:`MatchSettings` while the DAG
is built.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechneurons.stats import rank_p_value

KS_TARGET = 0.1


@dataclass(frozen=True)
class MatchSettings:
    """Keys of the ``experiments`` config section for the matched controls
    (schemas/experiments.schema.yaml)."""

    control_draws: int
    match_neighbours: int
    balance_ks: float


def ks_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sample Kolmogorov-Smirnov distance (NaN when a sample is empty): the largest gap
    between the two empirical CDFs, computed as scipy.stats.ks_2samp computes its statistic
    (the same number, tested), without its p-value. The matched-control draws call this
    thousands of times, and for small samples ks_2samp's exact p-value made a call cost 311 us
    against 28 here (a base model's 100 protect_random draws: 90 CPU-s, now 48)."""
    a, b = np.sort(np.asarray(a, dtype=float)), np.sort(np.asarray(b, dtype=float))
    if not len(a) or not len(b):
        return float("nan")
    both = np.concatenate([a, b])
    gap = np.searchsorted(a, both, side="right") / len(a) - np.searchsorted(b, both, side="right") / len(b)
    d = max(float(gap.max()), float(np.clip(-gap.min(), 0, 1)))
    n1, n2 = len(a), len(b)
    if max(n1, n2) <= 10000:  # ks_2samp's exact mode snaps the distance to a multiple of 1 / lcm(n1, n2)
        lcm = math.lcm(n1, n2)
        d = int(np.round(d * lcm)) * 1.0 / lcm
    return float(d)


def ks_target(n: int, target: float = KS_TARGET) -> float:
    """The balance criterion for a set of ``n`` neurons: ``target``, or 1 / n (the smallest
    distance two samples of n distinct values can have) when that is larger."""
    return max(float(target), 1.0 / n) if n else float("nan")


def is_balanced(
    set_rates: Sequence[float], control_rates: Sequence[float], target: float = KS_TARGET, ks: float | None = None
) -> bool:
    """The balance criterion: KS distance at most :func:`ks_target`; for a set too small for
    KS to reach ``target`` (n < 1 / target), the mean rates must also agree within ``target``
    of the set's mean (a one-neuron set has KS 0 or 1 whatever its match). ``ks``: their
    :func:`ks_distance` when the caller has it already."""
    a, b = np.asarray(set_rates, dtype=float), np.asarray(control_rates, dtype=float)
    if not len(a):
        return True
    if len(b) != len(a):
        return False
    ks = ks_distance(a, b) if ks is None else ks
    if ks <= target + 1e-12:
        return True
    small = len(a) < 1.0 / target
    return bool(small and ks <= ks_target(len(a), target) + 1e-12 and abs(b.mean() - a.mean()) <= target * a.mean())


def nearest_rate_control(
    chosen: Sequence[int],
    rates: np.ndarray,
    rng: np.random.Generator,
    neighbours: int = 3,
    exclude: Sequence[int] = (),
) -> np.ndarray:
    """One control set: for each neuron of ``chosen`` (highest rate first), one neuron drawn
    uniformly among the ``neighbours`` nearest in rate in the remaining pool (module docstring).
    Smaller than ``chosen`` only when the pool runs out."""
    rates = np.asarray(rates, dtype=np.float64)
    chosen = np.asarray(sorted({int(j) for j in chosen}), dtype=np.int64)
    pool = np.ones(len(rates), dtype=bool)
    pool[chosen] = False
    if len(exclude):
        pool[np.asarray(list(exclude), dtype=np.int64)] = False
    order = chosen[np.lexsort((rng.random(len(chosen)), -rates[chosen]))]  # highest rate first, ties at random
    picked = []
    for j in order:
        candidates = np.flatnonzero(pool)
        if not len(candidates):
            break
        distance = np.abs(rates[candidates] - rates[j])
        k = min(int(neighbours), len(candidates))
        nearest = candidates[np.argpartition(distance, k - 1)[:k]] if k < len(candidates) else candidates
        pick = int(rng.choice(nearest))
        pool[pick] = False
        picked.append(pick)
    return np.sort(np.asarray(picked, dtype=np.int64))


def matched_controls(
    sets: Mapping[int, Sequence[int]],
    rates: Mapping[int, np.ndarray],
    n_draws: int,
    seed: int,
    stream: int = 0,
    neighbours: int = 3,
    exclude: Mapping[int, Sequence[int]] | None = None,
    target: float = KS_TARGET,
    tries: int = 50,
) -> list[dict[int, np.ndarray]]:
    """``n_draws`` control sets, each per layer as :func:`nearest_rate_control`, redrawn (up to
    ``tries`` times) until its KS distance to the set is within :func:`ks_target`; when no try
    passes, the closest one is kept (and :func:`balance_table` reports it). Draw i is seeded by
    (seed, stream, layer, i), so draw 0 does not depend on ``n_draws``."""
    draws = []
    for i in range(int(n_draws)):
        draw = {}
        for layer, chosen in sorted(sets.items()):
            rng = np.random.default_rng([int(seed), int(stream), int(layer), i])
            ex = list(exclude[layer]) if exclude and layer in exclude else []
            r = np.asarray(rates[layer], dtype=np.float64)
            a = r[np.asarray(list(chosen), dtype=np.int64)]
            best, best_key = None, (True, np.inf, np.inf)
            for _ in range(max(1, int(tries))):
                control = nearest_rate_control(chosen, r, rng, neighbours, ex)
                b = r[control]
                ks = ks_distance(a, b) if len(a) else 0.0
                ok = is_balanced(a, b, target, ks=ks)
                key = (not ok, ks, abs(b.mean() - a.mean()) if len(b) else 0.0)
                if key < best_key:
                    best, best_key = control, key
                if ok:
                    break
            draw[int(layer)] = best
        draws.append(draw)
    return draws


def matched_control(
    sets: Mapping[int, Sequence[int]],
    rates: Mapping[int, np.ndarray],
    seed: int,
    stream: int = 0,
    neighbours: int = 3,
    exclude: Mapping[int, Sequence[int]] | None = None,
    target: float = KS_TARGET,
) -> dict[int, np.ndarray]:
    """The single control of ``sets``: draw 0 of :func:`matched_controls` (the same set as the
    first of any number of draws with these seeds)."""
    return matched_controls(sets, rates, 1, seed, stream, neighbours, exclude, target)[0]


def uniform_random(
    sets: Mapping[int, Sequence[int]], widths: Mapping[int, int], seed: int, stream: int = 0
) -> dict[int, np.ndarray]:
    """Per layer, as many neurons as ``sets`` holds, drawn uniformly outside the set (the
    unmatched control, kept to show what matching changes)."""
    out = {}
    for layer, chosen in sorted(sets.items()):
        pool = np.setdiff1d(np.arange(int(widths[layer])), np.asarray(list(chosen), dtype=np.int64))
        n = min(len(chosen), len(pool))
        rng = np.random.default_rng([int(seed), int(stream), int(layer)])
        out[int(layer)] = np.sort(rng.choice(pool, size=n, replace=False)) if n else np.zeros(0, np.int64)
    return out


def balance_table(
    sets: Mapping[int, Sequence[int]],
    draws: Sequence[Mapping[int, Sequence[int]]],
    rates: Mapping[int, np.ndarray],
    target: float = KS_TARGET,
) -> pd.DataFrame:
    """Per layer, the balance of the first control (the one the probe runs use) and of all the
    draws: sizes, mean rates, ``ks_distance`` of draw 0, ``ks_target`` (:func:`ks_target`),
    ``balanced`` (draw 0 passes :func:`is_balanced`), and over every draw ``n_draws``,
    ``ks_max``, ``max_mean_rate_gap`` and ``share_balanced``."""
    rows = []
    for layer in sorted(sets):
        r = np.asarray(rates[layer], dtype=np.float64)
        a = r[np.asarray(list(sets[layer]), dtype=np.int64)]
        controls = [r[np.asarray(list(d.get(layer, [])), dtype=np.int64)] for d in draws]
        ks = [ks_distance(a, b) for b in controls]
        first = controls[0] if draws else np.zeros(0)
        limit = ks_target(len(a), target)
        ok = [is_balanced(a, b, target) for b in controls] if len(a) else []
        rows.append(
            {
                "layer": int(layer),
                "n_set": len(a),
                "n_control": len(first),
                "mean_rate_set": float(a.mean()) if len(a) else np.nan,
                "mean_rate_control": float(first.mean()) if len(first) else np.nan,
                "ks_distance": ks[0] if ks else np.nan,
                "ks_target": limit,
                "balanced": bool(ok[0]) if ok else False,
                "n_draws": len(draws),
                "ks_max": float(np.nanmax(ks)) if ok else np.nan,
                "max_mean_rate_gap": float(max(abs(b.mean() - a.mean()) for b in controls if len(b))) if ok else np.nan,
                "share_balanced": float(np.mean(ok)) if ok else np.nan,
            }
        )
    return pd.DataFrame(rows)


def share_balanced(balance: pd.DataFrame) -> float:
    """One number for a :func:`balance_table`: the share of draws within the balance criterion,
    averaged over the layers that have a set (NaN when none has)."""
    if not len(balance):
        return float("nan")
    rows = balance[balance["n_set"] > 0]
    return float(rows["share_balanced"].mean()) if len(rows) else float("nan")


def control_p(effect: float, control_effects: Sequence[float], direction: int = 1) -> float:
    """Rank p-value of an effect against the same effect for each control draw, in the claimed
    direction (``direction`` +1: larger is the claim): (1 + #{controls at least as extreme}) /
    (1 + draws), non-finite control effects left out (:func:`speechneurons.stats.rank_p_value`
    on the signed values)."""
    x = np.asarray(control_effects, dtype=float)
    x = x[np.isfinite(x)]
    return rank_p_value(direction * float(effect), direction * x)
