"""Matched random controls (speechneurons.stats.controls, the one implementation): same size
per layer and the same activation-rate distribution by nearest rate, every control within its
Kolmogorov-Smirnov balance criterion where a uniform draw is far off."""

from __future__ import annotations

import numpy as np
import pytest

from speechneurons.stats import controls as mt
from speechneurons.stats import rank_p_value


def heavy_tailed(D=1024, n_set=50, seed=0):
    """Lognormal rates; the set is drawn among the busiest quarter (property neurons fire
    5-15x more often than a uniform neuron)."""
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(-5, 1.2, D)
    busy = np.argsort(rates)[-D // 4 :]
    return rates, np.sort(rng.choice(busy, n_set, replace=False))


def test_every_nearest_rate_control_of_busy_neurons_passes_its_balance_criterion():
    for seed in range(3):
        rates, chosen = heavy_tailed(seed=seed)
        sets, r = {1: chosen, 2: chosen[:8]}, {1: rates, 2: rates}
        draws = mt.matched_controls(sets, r, 100 if seed == 0 else 20, seed=seed, stream=7)
        table = mt.balance_table(sets, draws, r)
        assert table["balanced"].all() and (table["share_balanced"] == 1.0).all()
        assert (table["ks_max"] <= table["ks_target"] + 1e-12).all()
        assert table.loc[table.layer == 2, "ks_target"].item() == pytest.approx(1 / 8)  # small set: 1 / n
        for d in draws[:5]:
            assert len(d[1]) == 50 and not set(d[1]) & set(chosen)
        assert len({tuple(d[1]) for d in draws}) > len(draws) // 2  # the draws differ
        uniform = mt.uniform_random({1: chosen}, {1: len(rates)}, seed=seed)
        assert len(uniform[1]) == 50 and not set(uniform[1]) & set(chosen)
        assert mt.ks_distance(rates[chosen], rates[uniform[1]]) > 0.5  # what matching fixes


def test_exclusion_draw_zero_and_the_pool_running_out():
    rates = np.linspace(0, 1, 10)
    d = mt.matched_controls({1: [8, 9]}, {1: rates}, 3, seed=0, neighbours=1, exclude={1: [7]})
    assert all(list(x[1]) == [5, 6] for x in d)  # nearest outside the set and the exclusion
    first = mt.matched_controls({1: [8, 9]}, {1: rates}, 1, seed=0)[0]
    assert (first[1] == mt.matched_controls({1: [8, 9]}, {1: rates}, 5, seed=0)[0][1]).all()
    assert (mt.matched_control({1: [8, 9]}, {1: rates}, seed=0)[1] == first[1]).all()  # the one-draw helper
    small = mt.nearest_rate_control(range(8), rates, np.random.default_rng(0), exclude=[9])
    assert list(small) == [8]


def test_controls_are_seeded_and_respect_exclusions_per_layer():
    rates, chosen = heavy_tailed(seed=1)
    busiest = np.argsort(rates)[-100:]
    ex = {1: [int(j) for j in busiest if j not in set(chosen)]}
    a = mt.matched_control({1: chosen[:10]}, {1: rates}, seed=4, exclude=ex)
    b = mt.matched_control({1: chosen[:10]}, {1: rates}, seed=4, exclude=ex)
    assert np.array_equal(a[1], b[1]) and len(a[1]) == 10
    assert not set(a[1]) & set(ex[1]) and not set(a[1]) & set(chosen[:10])


def test_control_p_in_the_claimed_direction_is_the_rank_p_value():
    assert mt.control_p(5.0, [1, 2, 3]) == pytest.approx(0.25)
    assert mt.control_p(-5.0, [1, 2, 3], direction=-1) == pytest.approx(0.25)
    assert mt.control_p(0.0, [1, 2, 3]) == pytest.approx(1.0)
    assert mt.control_p(2.0, [1, 2, 3, np.nan]) == pytest.approx(rank_p_value(2.0, [1, 2, 3]))  # NaN left out
    assert np.isnan(mt.control_p(np.nan, [1, 2])) and np.isnan(mt.control_p(1.0, []))


def test_a_tiny_set_needs_its_mean_rate_matched_too():
    assert not mt.is_balanced([0.376], [0.068])  # KS is 1 either way for one neuron
    assert mt.is_balanced([0.376], [0.36])
    assert mt.is_balanced([], [])
    rates = np.array([0.01] * 20 + [0.4])
    table = mt.balance_table({1: [20]}, mt.matched_controls({1: [20]}, {1: rates}, 3, seed=0), {1: rates})
    assert not table["balanced"].item() and table["share_balanced"].item() == 0.0  # nothing near: reported


def test_ks_distance_is_scipy_s_statistic():
    """The KS distance without the p-value is the number scipy.stats.ks_2samp gives, ties and
    unequal sizes included (the balance decisions, and so the draws, are unchanged by it)."""
    import warnings

    from scipy.stats import ks_2samp

    rng = np.random.default_rng(0)
    for i in range(400):
        n, m = rng.integers(1, 60, 2)
        a = rng.choice(rng.random(12), n) if i % 2 else rng.lognormal(-5, 1.2, n)  # ties / heavy tail
        b = rng.choice(a, m) if i % 3 == 0 else rng.lognormal(-5, 1.2, m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # scipy's "exact calculation unsuccessful"
            assert mt.ks_distance(a, b) == float(ks_2samp(a, b).statistic), (a, b)
    assert np.isnan(mt.ks_distance([], [0.1]))


def test_share_balanced_over_the_layers_with_a_set():
    """A set whose rates the pool matches (layer 1) is balanced in every draw; a set busier than
    every pool neuron (layer 2) in none; a layer without a set does not count."""
    r1 = np.repeat(np.linspace(0.01, 0.2, 50), 4)  # every rate four times: exact matches exist
    r2 = np.r_[np.full(5, 0.9), np.full(195, 0.01)]
    rates = {1: r1, 2: r2, 3: r1}
    sets = {1: np.arange(80, 160, 4), 2: np.arange(5), 3: np.array([], dtype=int)}
    table = mt.balance_table(sets, mt.matched_controls(sets, rates, 4, seed=0), rates)
    by_layer = table.set_index("layer")["share_balanced"]
    assert by_layer[1] == 1.0 and by_layer[2] == 0.0
    assert mt.share_balanced(table) == 0.5
    assert np.isnan(mt.share_balanced(table.iloc[0:0]))
