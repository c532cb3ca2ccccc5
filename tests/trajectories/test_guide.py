"""Known answers of the layer-guide rank correlation (Pasad et al.) and its exact null."""

import math

import numpy as np
import pytest

from speechneurons.trajectories.guide import guide_correlation, permutation_null, spearman


def test_exact_null_is_every_permutation():
    null, exact = permutation_null(np.arange(5.0), np.arange(5.0), 10, 0)
    assert exact and null.size == 120
    assert null.max() == pytest.approx(1.0) and null.min() == pytest.approx(-1.0)
    assert np.mean(null) == pytest.approx(0.0, abs=1e-12)
    null, exact = permutation_null(np.arange(12.0), np.arange(12.0), 50, 0)
    assert not exact and null.size == 50


def probe(errors, n_utts=40, seed=0):
    """[layers, utts] error sums and counts whose error rates are ``errors`` (+ noise)."""
    rng = np.random.default_rng(seed)
    counts = np.full((len(errors), n_utts), 100.0)
    sums = np.clip(np.asarray(errors)[:, None] * 100 + rng.normal(0, 2, counts.shape), 0, 100)
    return sums, counts


def test_guide_that_ranks_layers_as_the_probe_holds():
    guide = np.array([0.1, 0.3, 0.5, 0.7, 0.6, 0.4, 0.2])
    sums, counts = probe(0.9 - guide)  # best probe layer = PWCCA peak
    r = guide_correlation(guide, sums, counts, 200, 0, 0.95)
    assert r["rho"] == pytest.approx(1.0)
    assert r["ci_low"] > r["chance_high"] > 0
    assert r["exact"] and r["p"] == pytest.approx(1 / 5040)
    assert r["guide_best"] == r["probe_best"] == 3


def test_guide_that_ranks_layers_backwards_does_not():
    guide = np.array([0.1, 0.3, 0.5, 0.7, 0.6, 0.4, 0.2])
    sums, counts = probe(0.2 + guide)
    r = guide_correlation(guide, sums, counts, 200, 0, 0.95)
    assert r["rho"] == pytest.approx(-1.0) and r["ci_high"] < r["chance_low"] < 0


def test_flat_guide_has_no_rank():
    sums, counts = probe(np.full(4, 0.5))
    assert math.isnan(guide_correlation(np.ones(4), sums, counts, 20, 0, 0.95)["rho"])
    assert math.isnan(spearman([1, 1], [1, 2]))
