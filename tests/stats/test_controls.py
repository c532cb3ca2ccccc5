"""Matched random controls: same size per layer, same activation-rate distribution."""

from __future__ import annotations

import numpy as np

from speechneurons.stats.controls import match_table, matched_controls, matched_random, rate_bins, uniform_random


def _rates(D=400, seed=0):
    """Activation rates of a layer: most neurons near chance, a busy tail."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.uniform(0.0, 0.02, D - 40), rng.uniform(0.1, 0.3, 40)])


def test_rate_bins_are_quantiles():
    bins = rate_bins(np.arange(100.0), 10)
    assert np.bincount(bins).tolist() == [10] * 10


def test_matched_control_has_the_size_and_the_rates_of_the_set():
    rates = {1: _rates(seed=1), 2: _rates(seed=2)}
    busy = {1: list(range(360, 380)), 2: list(range(365, 375)) + list(range(0, 50, 5))}  # mostly busy neurons
    control = matched_random(busy, rates, seed=0, n_bins=20)
    for layer in busy:
        assert len(control[layer]) == len(busy[layer])
        assert not set(control[layer]) & set(busy[layer])
    table = match_table(busy, control, rates)
    assert (table["ks_distance"] <= 0.35).all()
    assert (abs(table["mean_rate_control"] / table["mean_rate_set"] - 1) < 0.15).all()
    uniform = uniform_random(busy, {1: 400, 2: 400}, seed=0)
    unmatched = match_table(busy, uniform, rates)
    assert (unmatched["mean_rate_control"] < 0.5 * unmatched["mean_rate_set"]).all()  # what matching fixes


def test_matched_control_is_seeded_and_respects_exclusions():
    rates = {1: _rates()}
    a = matched_random({1: [1, 2, 3, 370]}, rates, seed=4, n_bins=10, exclude={1: list(range(361, 400))})
    b = matched_random({1: [1, 2, 3, 370]}, rates, seed=4, n_bins=10, exclude={1: list(range(361, 400))})
    assert np.array_equal(a[1], b[1]) and len(a[1]) == 4
    assert not set(a[1]) & set(range(361, 400))  # the busy bin is excluded: the nearest bin is used


def test_matched_controls_draw_several_sets_and_report_their_balance():
    rates = {1: _rates(), 2: _rates(seed=1)}
    busy = {1: list(range(360, 380)), 2: list(range(365, 385))}
    res = matched_controls(busy, rates, n_draws=3, seed=0, n_bins=20)
    assert len(res.draws) == 3 and sorted(res.balance["draw"].unique()) == [0, 1, 2]
    first = matched_random(busy, rates, seed=0, n_bins=20)
    assert all(np.array_equal(res.draws[0][k], first[k]) for k in busy)  # draw 0 = the single control
    assert not np.array_equal(res.draws[0][1], res.draws[1][1])
    assert (res.balance["ks_distance"] < 0.5).all() and (res.balance["n_control"] == 20).all()
