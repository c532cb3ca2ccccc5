"""Random neuron sets matched to a set of interest: the same size per layer AND the same
distribution of activation rate.

A neuron's activation rate is the share of the statistic's frames at which it is among the
top tau neurons of its layer (what "activated" means in docs/property-neurons.md); its chance
value is tau / D. Property neurons fire far more often than a uniform random neuron, so a
control drawn uniformly would mix "silencing selective neurons" with "silencing busy neurons".
Matching: the layer's neurons are cut into ``n_bins`` quantile bins of activation rate; for each
neuron of the set, one neuron is drawn (seeded, without replacement) from the same bin among
the neurons outside the set (and outside ``exclude``); when a bin runs out, the draw moves to
the nearest bin that still has neurons. :func:`match_table` reports how close the match is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd


def activation_rates(active: Sequence[np.ndarray], frames: Sequence[np.ndarray]) -> np.ndarray:
    """Activation rate of every neuron of a layer from the statistic's counts: the activations
    A[c, j] summed over cells, divided by the frames n[c] summed over the same cells (pass the
    arrays of groups that partition the frames, e.g. the three phone types)."""
    total_active = sum(np.asarray(a, dtype=np.float64).sum(axis=0) for a in active)
    total_frames = float(sum(np.asarray(n, dtype=np.float64).sum() for n in frames))
    return total_active / max(total_frames, 1.0)


def rates_from_npz(path) -> np.ndarray:
    """Activation rates of a layer from its P.npz (the property statistic's counts over the
    frames it used: the phone-type groups partition them)."""
    from speechneurons.io import load_npz

    with load_npz(path) as npz:
        groups = sorted(k.removeprefix("A__phone_type__") for k in npz.files if k.startswith("A__phone_type__"))
        return activation_rates(
            [npz[f"A__phone_type__{g}"] for g in groups], [npz[f"n__phone_type__{g}"] for g in groups]
        )


def rate_bins(rates: np.ndarray, n_bins: int) -> np.ndarray:
    """Quantile bin (0..n_bins-1) of every neuron's activation rate (ties share a bin)."""
    rates = np.asarray(rates, dtype=np.float64)
    if len(rates) == 0:
        return np.zeros(0, dtype=np.int64)
    edges = np.quantile(rates, np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.searchsorted(edges, rates, side="right").astype(np.int64)


def matched_random(
    sets: Mapping[int, Sequence[int]],
    rates: Mapping[int, np.ndarray],
    seed: int,
    stream: int = 0,
    n_bins: int = 10,
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
    from scipy.stats import ks_2samp

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
