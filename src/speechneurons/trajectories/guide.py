"""Is the layer-wise PWCCA curve a guide to the best probe layer (Pasad et al.)?

Across the layers of one checkpoint, the Spearman rank correlation between a view's PWCCA on
the validation part (``dev_pwcca`` of ``pwcca.tsv``: the dev part of train, never the test part)
and the matching probe's score (phone PWCCA against the frame phone probe: score = - error).
Its null permutes the layers (which PWCCA goes with which probe score): exact over every
permutation when there are at most ``max_exact`` layers (8! = 40320), else ``resamples`` seeded
random permutations. Its interval: a bootstrap over the probe's
test utterances (``probe_losses.parquet``: per-utterance error sums), PWCCA held fixed.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from speechneurons.stats import percentile_interval, resample_index

MAX_EXACT = 8


def spearman(x, y) -> float:
    """Spearman's rho of two equal-length sequences (NaN when either is constant)."""
    from scipy import stats as sps  # here, not at import: the findings page imports this module

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.size < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(sps.spearmanr(x, y).statistic)


def permutation_null(x, y, resamples: int, seed: int, max_exact: int = MAX_EXACT) -> tuple[np.ndarray, bool]:
    """Spearman's rho of ``x`` against every permutation of ``y`` (exact, True) when
    len(x) <= ``max_exact``, else against ``resamples`` seeded random permutations (False).
    Rho is Pearson's correlation of the ranks (average ranks for ties), as scipy.stats.spearmanr."""
    from scipy import stats as sps  # here, not at import: the findings page imports this module

    rx = sps.rankdata(np.asarray(x, dtype=np.float64))
    ry = sps.rankdata(np.asarray(y, dtype=np.float64))
    if rx.size != ry.size:
        raise ValueError(f"x and y differ in length: {rx.size} and {ry.size}")
    exact = rx.size <= max_exact
    if exact:
        perms = np.array(list(itertools.permutations(range(ry.size))), dtype=np.int64)
    else:
        perms = np.random.default_rng(seed).permuted(np.tile(np.arange(ry.size), (int(resamples), 1)), axis=1)
    cx = rx - rx.mean()
    cy = ry[perms] - ry.mean()
    denom = np.sqrt(np.sum(cx**2) * np.sum(cy**2, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return cy @ cx / denom, exact


def probe_scores(losses: pd.DataFrame, task: str, checkpoint: str, layers) -> tuple[np.ndarray, list[str]]:
    """The error sums and item counts of ``task`` at ``checkpoint`` per layer and test utterance
    (rows of probe_losses.parquet), stacked as a [2, layers, utterances] array, and the utterance
    ids; a clear error when a layer or an utterance is missing."""
    t = losses[(losses["task"] == task) & (losses["checkpoint"].astype(str) == checkpoint)]
    sums = t.pivot_table(index="layer", columns="utt_id", values="loss_sum", aggfunc="sum")
    counts = t.pivot_table(index="layer", columns="utt_id", values="n_items", aggfunc="sum")
    sums, counts = sums.reindex(list(layers)), counts.reindex(list(layers))
    if sums.isna().any().any() or counts.isna().any().any():
        raise ValueError(f"probe losses of {task} at {checkpoint} lack a layer or an utterance")
    return np.stack([sums.to_numpy(float), counts.to_numpy(float)]), list(sums.columns)


def guide_correlation(
    guide,
    sums: np.ndarray,
    counts: np.ndarray,
    resamples: int,
    seed: int,
    level: float,
    max_exact: int = MAX_EXACT,
) -> dict:
    """Spearman's rho across layers between ``guide`` (one value per layer, higher = more) and
    the probe score - sum(sums) / sum(counts) per layer (``sums``, ``counts``: [layers,
    utterances]); its bootstrap interval over utterances; the permutation null's central
    ``level`` range, the one-sided p-value (null >= observed) and whether the null is exact."""
    guide = np.asarray(guide, dtype=np.float64)
    sums, counts = np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    if sums.shape != counts.shape or sums.shape[0] != guide.size:
        raise ValueError(f"guide has {guide.size} layers, the probe losses {sums.shape}")
    score = -sums.sum(axis=1) / np.maximum(counts.sum(axis=1), 1e-12)
    rho = spearman(guide, score)
    nan = float("nan")
    out = dict(rho=rho, ci_low=nan, ci_high=nan, chance_low=nan, chance_high=nan, p=nan, exact=False)
    out.update(n_layers=int(guide.size), guide_best=int(np.argmax(guide)), probe_best=int(np.argmax(score)))
    if math.isnan(rho):
        return out
    idx = resample_index(sums.shape[1], resamples, seed)
    boot = -sums[:, idx].sum(axis=2) / np.maximum(counts[:, idx].sum(axis=2), 1e-12)  # [layers, resamples]
    out["ci_low"], out["ci_high"] = percentile_interval([spearman(guide, b) for b in boot.T], level)
    null, exact = permutation_null(guide, score, resamples, seed, max_exact)
    out["chance_low"], out["chance_high"] = percentile_interval(null, level)
    out["p"] = float(np.mean(null >= rho - 1e-12))
    out["exact"] = exact
    return out
