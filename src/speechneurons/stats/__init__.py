"""Statistics primitives shared by every stage: one definition of each.

- :func:`percentile_interval`: the central ``level`` range of bootstrap or null replicates;
- :func:`centred_interval`: the union of the percentile and the basic bootstrap intervals,
  centred on the estimate, for statistics whose resampling is biased (counts of selected units);
- :func:`resample_index`, :func:`resample_weights`, :func:`unit_weights`: the bootstrap over a
  chosen unit (utterance, speaker): units are drawn with replacement, as many as there are,
  seeded; a *paired* bootstrap applies the same draws to both arms;
- :func:`bootstrap_ratio`, :func:`bootstrap_delta`: a ratio of sums over units and the paired
  difference of two such ratios, with percentile intervals;
- :func:`rank_p_value`: the permutation p-value (1 + #{null >= observed}) / (1 + #null);
- :func:`equal_count_edges`, :func:`equal_count_bins`: cut points at the quantiles k / n and
  bin = number of cut points <= value;
- :mod:`speechneurons.stats.controls`: random neuron sets matched on activation rate.
"""

from __future__ import annotations

import numpy as np


def percentile_interval(samples, level: float) -> tuple[float, float]:
    """The central ``level`` percentile interval of the finite ``samples`` (quantiles
    (1 - level) / 2 and 1 - (1 - level) / 2, linear interpolation); (nan, nan) when none is
    finite."""
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1), got {level}")
    x = np.asarray(samples, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    if x.size == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    return float(np.quantile(x, a)), float(np.quantile(x, 1 - a))


def centred_interval(samples, estimate: float, level: float) -> tuple[float, float]:
    """An interval centred on ``estimate``: estimate -+ d, with d the larger distance from the
    estimate to either end of the central ``level`` percentile interval of its bootstrap
    ``samples``. It is the union of the percentile interval and the basic (reverse percentile)
    interval, which mirrors the percentile interval about the estimate; so it contains both,
    and a shift of the resamples away from the estimate (a biased resampling) widens it rather
    than moving it. Equal to the percentile interval when that is symmetric about the estimate.
    (nan, nan) when no sample is finite or the estimate is not."""
    lo, hi = percentile_interval(samples, level)
    if not np.isfinite(estimate) or not np.isfinite(lo):
        return float("nan"), float("nan")
    d = max(hi - estimate, estimate - lo)
    return float(estimate - d), float(estimate + d)


def resample_index(n_units: int, resamples: int, seed) -> np.ndarray:
    """[resamples, n_units] indices of the units drawn in each bootstrap resample (with
    replacement, ``numpy.random.default_rng(seed)``)."""
    return np.random.default_rng(seed).integers(0, n_units, size=(resamples, n_units))


def resample_weights(n_units: int, resamples: int, seed) -> np.ndarray:
    """[resamples, n_units] float multiplicities of the units in each resample of
    :func:`resample_index` (the same draws)."""
    idx = resample_index(n_units, resamples, seed)
    w = np.zeros((resamples, n_units), dtype=np.float64)
    np.add.at(w, (np.repeat(np.arange(resamples), n_units), idx.ravel()), 1.0)
    return w


def unit_weights(units, seed) -> np.ndarray:
    """int64 [n_rows]: the multiplicity of every row in one bootstrap resample of its units
    (``units`` labels each row with its unit; the units are drawn with replacement, as many as
    there are; the rows of a unit drawn k times count k times)."""
    _, code = np.unique(np.asarray(units), return_inverse=True)
    n = int(code.max()) + 1 if len(code) else 0
    if not n:
        return np.zeros(0, dtype=np.int64)
    draws = np.bincount(resample_index(n, 1, seed)[0], minlength=n)
    return draws[code].astype(np.int64)


def bootstrap_ratio(sums, counts, resamples: int, seed, level: float) -> tuple[float, float, float]:
    """sum(sums) / sum(counts) over units and its percentile bootstrap interval over the units
    (no interval when ``resamples`` is 0)."""
    sums, counts = np.asarray(sums, float), np.asarray(counts, float)
    if len(sums) == 0 or counts.sum() == 0:
        return (np.nan, np.nan, np.nan)
    point = sums.sum() / counts.sum()
    if resamples <= 0:
        return (point, np.nan, np.nan)
    idx = resample_index(len(sums), resamples, seed)
    boot = sums[idx].sum(axis=1) / np.maximum(counts[idx].sum(axis=1), 1e-12)
    return (float(point), *percentile_interval(boot, level))


def bootstrap_delta(a_sums, a_counts, b_sums, b_counts, resamples: int, seed, level: float):
    """m_a - m_b for two arms scored on the same (aligned) units, m = sum(sums) / sum(counts),
    with a paired percentile interval (the same resamples for both arms)."""
    arrays = [np.asarray(v, float) for v in (a_sums, a_counts, b_sums, b_counts)]
    a_s, a_c, b_s, b_c = arrays
    if len(a_s) == 0 or a_c.sum() == 0 or b_c.sum() == 0:
        return (np.nan, np.nan, np.nan)
    point = a_s.sum() / a_c.sum() - b_s.sum() / b_c.sum()
    if resamples <= 0:
        return (point, np.nan, np.nan)
    idx = resample_index(len(a_s), resamples, seed)
    boot = a_s[idx].sum(1) / np.maximum(a_c[idx].sum(1), 1e-12) - b_s[idx].sum(1) / np.maximum(b_c[idx].sum(1), 1e-12)
    return (float(point), *percentile_interval(boot, level))


def rank_p_value(observed: float, null) -> float:
    """Permutation p-value (1 + #{null >= observed}) / (1 + #null); nan without null
    replicates or with a non-finite ``observed``."""
    x = np.asarray(null, dtype=np.float64).ravel()
    if not len(x) or not np.isfinite(observed):
        return float("nan")
    return float((1 + np.sum(x >= observed)) / (1 + len(x)))


def equal_count_edges(values, n_bins: int) -> np.ndarray:
    """The ``n_bins`` - 1 cut points of equal-count bins: the quantiles k / n_bins (k = 1..n-1)
    of ``values`` (the caller keeps only the values that count, e.g. finite ones)."""
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    return np.quantile(np.asarray(values, dtype=np.float64), np.arange(1, n_bins) / n_bins)


def equal_count_bins(values, edges) -> np.ndarray:
    """int64: the bin of every value, the number of cut points <= value (0..len(edges))."""
    return np.searchsorted(np.asarray(edges, dtype=np.float64), values, side="right").astype(np.int64)
