"""Random neuron sets matched to a set of interest: the same size per layer AND the same
distribution of activation rate.

A neuron's activation rate is the share of frames at which it is *activated*, among the top
tau neurons of its layer (:mod:`speechneurons.activated`, the one definition); its chance
value is tau / D. Property neurons fire far more often than a uniform random neuron, so a
control drawn uniformly would mix "silencing selective neurons" with "silencing busy neurons".
Matching: the layer's neurons are cut into ``n_bins`` quantile bins of activation rate; for each
neuron of the set, one neuron is drawn (seeded, without replacement) from the same bin among
the neurons outside the set (and outside ``exclude``); when a bin runs out, the draw moves to
the nearest bin that still has neurons. :func:`match_table` reports how close the match is
(Kolmogorov-Smirnov distance per layer); :func:`matched_controls` draws several control sets
and reports the balance of each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp

from speechneurons.stats import equal_count_bins, equal_count_edges


def rate_bins(rates: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile bin (0..n_bins-1) of every neuron's activation rate (ties share a bin)."""
    rates = np.asarray(rates, dtype=np.float64)
    if len(rates) == 0:
        return np.zeros(0, dtype=np.int64)
    return equal_count_bins(rates, equal_count_edges(rates, n_bins))


def matched_random(
    sets: Mapping[int, Sequence[int]],
    rates: Mapping[int, np.ndarray],
    seed: int,
    stream: int = 0,
    *,
    n_bins: int,
    exclude: Mapping[int, Sequence[int]] | None = None,
) -> dict[int, np.ndarray]:
    """Per layer, as many neurons as ``sets`` holds, drawn to match its activation-rate bins
    (see the module docstring), never from the set itself or from ``exclude``; seeded by
    (seed, stream, layer)."""
    out = {}
    for layer, chosen in sorted(sets.items()):
        chosen = np.asarray(sorted({int(j) for j in chosen}), dtype=np.int64)
        r = np.asarray(rates[layer], dtype=np.float64)
        bins = rate_bins(r, n_bins)
        pool = np.ones(len(r), dtype=bool)
        pool[chosen] = False
        if exclude and layer in exclude:
            pool[np.asarray(list(exclude[layer]), dtype=np.int64)] = False
        rng = np.random.default_rng([int(seed), int(stream), int(layer)])
        picked = []
        for b in bins[chosen]:
            for distance in range(n_bins):
                near = [x for x in {b - distance, b + distance} if 0 <= x < n_bins]
                candidates = np.flatnonzero(pool & np.isin(bins, near))
                if len(candidates):
                    j = int(rng.choice(candidates))
                    pool[j] = False
                    picked.append(j)
                    break
        out[int(layer)] = np.sort(np.asarray(picked, dtype=np.int64))
    return out


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


def match_table(
    sets: Mapping[int, Sequence[int]], controls: Mapping[int, Sequence[int]], rates: Mapping[int, np.ndarray]
) -> pd.DataFrame:
    """Per layer: sizes, mean activation rate of the set and of its control, and the
    Kolmogorov-Smirnov distance between their rate distributions (0 = the same)."""
    rows = []
    for layer in sorted(sets):
        a = np.asarray(rates[layer])[np.asarray(list(sets[layer]), dtype=np.int64)]
        b = np.asarray(rates[layer])[np.asarray(list(controls.get(layer, [])), dtype=np.int64)]
        rows.append(
            {
                "layer": int(layer),
                "n_set": len(a),
                "n_control": len(b),
                "mean_rate_set": float(a.mean()) if len(a) else np.nan,
                "mean_rate_control": float(b.mean()) if len(b) else np.nan,
                "ks_distance": float(ks_2samp(a, b).statistic) if len(a) and len(b) else np.nan,
            }
        )
    return pd.DataFrame(rows)


class MatchedControls(NamedTuple):
    """What :func:`matched_controls` returns."""

    draws: list[dict[int, np.ndarray]]
    """One control set per draw ({layer: sorted neurons}), draw i seeded by (seed, stream + i)."""
    balance: pd.DataFrame
    """:func:`match_table` of every draw, with a ``draw`` column (0..n_draws-1)."""


def matched_controls(
    sets: Mapping[int, Sequence[int]],
    rates: Mapping[int, np.ndarray],
    n_draws: int,
    seed: int,
    n_bins: int,
    stream: int = 0,
    exclude: Mapping[int, Sequence[int]] | None = None,
) -> MatchedControls:
    """``n_draws`` control sets matched to the activation rates of ``sets`` (draw i is
    :func:`matched_random` with stream ``stream + i``, so draw 0 is the single control of
    today's tables) and their Kolmogorov-Smirnov balance against the set."""
    if n_draws < 1:
        raise ValueError(f"n_draws must be >= 1, got {n_draws}")
    draws = [
        matched_random(sets, rates, seed, stream=stream + i, n_bins=n_bins, exclude=exclude) for i in range(n_draws)
    ]
    balance = pd.concat([match_table(sets, d, rates).assign(draw=i) for i, d in enumerate(draws)], ignore_index=True)
    return MatchedControls(draws, balance)
