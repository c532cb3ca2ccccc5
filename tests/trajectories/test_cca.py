"""CCA / PWCCA with known answers, and agreement with a textbook implementation."""

import numpy as np
import pytest

from speechneurons.trajectories.cca import (
    PreparedView,
    crossval_plan,
    crossval_pwcca,
    dev_test_pairs,
    fit_cca,
    projection_weights,
    pwcca,
    split_parts,
)
from tests.helpers.cca_reference import reference_cca, reference_pwcca


def _related(n=500, dx=12, dy=8, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, dx)) @ rng.normal(size=(dx, dx))
    y = x[:, :5] @ rng.normal(size=(5, dy)) + rng.normal(size=(n, dy))
    return x, y


def test_pwcca_of_a_view_with_itself_is_one():
    x, _ = _related()
    assert pwcca(fit_cca(x, x), x, x).score == pytest.approx(1.0, abs=1e-9)
    res = crossval_pwcca(x, x, trials=3, thresholds=(1e-10, 1e-6))
    assert res.mean == pytest.approx(1.0, abs=1e-9) and res.std < 1e-9
    a = np.random.default_rng(1).normal(size=(12, 12))  # an invertible map keeps the same information
    assert crossval_pwcca(x, x @ a, thresholds=(0.0,)).mean == pytest.approx(1.0, abs=1e-8)


def test_pwcca_of_independent_noise_is_near_zero_and_shrinks_with_samples():
    rng = np.random.default_rng(0)
    in_sample = []
    for n in (100, 400, 1600):
        x, y = rng.normal(size=(n, 10)), rng.normal(size=(n, 8))
        in_sample.append(pwcca(fit_cca(x, y), x, y).score)
    assert in_sample[0] > in_sample[1] > in_sample[2]
    assert in_sample[2] < 2.5 * np.sqrt(10 / 1600)  # the overfitting bias ~ sqrt(d / N)
    x, y = rng.normal(size=(3000, 10)), rng.normal(size=(3000, 8))
    held_out = crossval_pwcca(x, y, trials=3)
    assert abs(held_out.mean) < 0.08
    assert held_out.mean < np.mean([t.train_score for t in held_out.trials])


def test_correlations_are_invariant_to_invertible_maps_of_either_view():
    x, y = _related()
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(12, 12)), rng.normal(size=(8, 8))
    rho = fit_cca(x, y).correlations
    np.testing.assert_allclose(fit_cca(x @ a, y).correlations, rho, atol=1e-8)
    np.testing.assert_allclose(fit_cca(x, y @ b + 3.0).correlations, rho, atol=1e-8)


def test_pwcca_is_invariant_to_maps_of_the_other_view_and_to_rescaling_of_its_own():
    x, y = _related()
    rng = np.random.default_rng(3)
    b = rng.normal(size=(8, 8))
    base = pwcca(fit_cca(x, y), x, y, "x").score
    assert pwcca(fit_cca(x, y @ b), x, y @ b, "x").score == pytest.approx(base, abs=1e-8)
    signed = x[:, rng.permutation(12)] * np.where(rng.random(12) < 0.5, -2.5, 2.5)
    assert pwcca(fit_cca(signed, y), signed, y, "x").score == pytest.approx(base, abs=1e-8)
    held = crossval_pwcca(x, y, weights="x", thresholds=(0.0,)).mean
    assert crossval_pwcca(x, y @ b, weights="x", thresholds=(0.0,)).mean == pytest.approx(held, abs=1e-8)
    # the weights are sums of |<q_i, z_j>| over the weighting view's columns: a general
    # invertible map of that view changes them (Morcos et al.'s definition is basis-dependent)
    a = rng.normal(size=(12, 12))
    assert abs(pwcca(fit_cca(x @ a, y), x @ a, y, "x").score - base) > 1e-4


@pytest.mark.parametrize("eps_x,eps_y", [(0.0, 0.0), (1e-6, 1e-9), (0.05, 0.2)])
def test_agrees_with_a_textbook_implementation(eps_x, eps_y):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 10)) * np.geomspace(1, 0.05, 10)
    y = x[:, :4] @ rng.normal(size=(4, 6)) + 0.3 * rng.normal(size=(300, 6))
    fit = fit_cca(x, y, eps_x, eps_y)
    rho, _, _, kx, ky = reference_cca(x, y, eps_x, eps_y)
    np.testing.assert_array_equal(fit.kept_x, kx)
    np.testing.assert_array_equal(fit.kept_y, ky)
    np.testing.assert_allclose(fit.correlations, rho, atol=1e-6)
    for view in "xy":
        assert pwcca(fit, x, y, view).score == pytest.approx(reference_pwcca(x, y, eps_x, eps_y, view), abs=1e-6)


def test_agrees_with_a_textbook_implementation_on_one_hot_labels():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 6, size=400)
    y = np.eye(6)[labels]  # rank 5 after centring
    x = y @ rng.normal(size=(6, 9)) + rng.normal(size=(400, 9))
    fit = fit_cca(x, y)
    rho = reference_cca(x, y)[0]
    assert len(fit.correlations) == 5
    np.testing.assert_allclose(fit.correlations, rho, atol=1e-6)
    assert pwcca(fit, x, y, "x").score == pytest.approx(reference_pwcca(x, y, weight_view="x"), abs=1e-6)


def test_the_threshold_chosen_on_dev_keeps_the_planted_signal_and_drops_the_noise():
    rng = np.random.default_rng(6)
    n = 400
    s = rng.normal(size=(n, 3))
    x = np.hstack([s, 1e-2 * rng.normal(size=(n, 60))])  # 3 signal columns, 60 of variance 1e-4
    y = np.hstack([s + 0.5 * rng.normal(size=(n, 3)), rng.normal(size=(n, 2))])
    chosen = crossval_pwcca(x, y, thresholds=(1e-10, 1e-6, 1e-3, 0.1), trials=3)
    assert all(t.kept_x == 3 and t.eps_x >= 1e-3 for t in chosen.trials)
    assert all(t.kept_y == 5 for t in chosen.trials)
    untruncated = crossval_pwcca(x, y, thresholds=(1e-10,), trials=3)
    assert chosen.mean > untruncated.mean + 0.05


def test_parts_are_a_stratified_partition_and_trials_use_disjoint_pairs():
    labels = np.repeat(np.array(list("abcd")), [40, 23, 10, 7])
    parts = split_parts(len(labels), 10, labels, seed=0)
    every = np.concatenate(parts)
    assert sorted(every.tolist()) == list(range(len(labels)))
    for label, count in zip("abcd", (40, 23, 10, 7)):
        per_part = [int(np.sum(labels[p] == label)) for p in parts]
        assert min(per_part) >= count // 10
    assert [p.tolist() for p in split_parts(len(labels), 10, labels, seed=0)] == [p.tolist() for p in parts]
    pairs = dev_test_pairs(10, 5, seed=1)
    used = [i for pair in pairs for i in pair]
    assert len(set(used)) == 10
    with pytest.raises(ValueError):
        dev_test_pairs(10, 6)


def test_weights_of_fewer_samples_than_directions_are_zero_after_the_nth():
    rng = np.random.default_rng(7)
    w = projection_weights(rng.normal(size=(4, 6)), rng.normal(size=(4, 6)))
    assert w.shape == (6,) and np.all(w[4:] == 0) and w.sum() == pytest.approx(1.0)


@pytest.mark.parametrize("eps,weights", [(0.0, "x"), (1e-3, "y"), (0.02, "mean"), (0.0, "smaller")])
def test_in_sample_score_from_the_svds_is_the_score_on_the_fitting_data(eps, weights):
    from speechneurons.trajectories.cca import _in_sample_score, _svd_of_kept, _variance_mask

    x, y = _related(n=300)
    x = x * np.geomspace(1, 0.1, 12)
    wx, wy = _svd_of_kept(x, _variance_mask(x, eps)), _svd_of_kept(y, _variance_mask(y, eps))
    fit = fit_cca(x, y, eps, eps)
    assert _in_sample_score(wx, wy, eps, eps, weights) == pytest.approx(pwcca(fit, x, y, weights).score, abs=1e-8)


def test_parts_by_utterance_keep_each_utterance_whole_and_sizes_even():
    rng = np.random.default_rng(0)
    units = np.repeat([f"u{i}" for i in range(40)], rng.integers(5, 15, 40))
    parts = split_parts(len(units), 10, labels=np.arange(len(units)) % 3, seed=0, units=units)
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(units)))
    owner = {}
    for p, idx in enumerate(parts):
        for u in set(units[idx]):
            assert owner.setdefault(u, p) == p  # no utterance in two parts
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 14  # greedy dealing: within one utterance's size
    again = split_parts(len(units), 10, seed=0, units=units)
    assert [p.tolist() for p in again] == [p.tolist() for p in parts]  # seeded; labels unused


def test_few_samples_against_many_dimensions_are_cut_to_leading_components():
    # word-like: 300 segments of 10 labels, a 200-dim layer whose label signal lives in 4
    # directions of larger variance; CCA on all 200 fits noise (train far above test)
    rng = np.random.default_rng(3)
    n, d, k = 300, 200, 10
    labels = rng.integers(k, size=n)
    y = np.eye(k)[labels]
    signal = 2 * rng.normal(size=(k, 4))[labels] + rng.normal(size=(n, 4))
    x = np.hstack([signal, 0.7 * rng.normal(size=(n, d - 4))]) @ np.linalg.qr(rng.normal(size=(d, d)))[0]
    full = crossval_pwcca(x, y, labels=labels, thresholds=(1e-10,))
    cut = crossval_pwcca(x, y, labels=labels, thresholds=(1e-10,), samples_per_dim=10)
    gap = [t.train_score - t.test_score for t in full.trials]
    cut_gap = [t.train_score - t.test_score for t in cut.trials]
    assert min(gap) > 0.6 and max(cut_gap) < min(gap) - 0.3
    assert cut.mean > full.mean + 0.05
    plan = crossval_plan(n, labels=labels, samples_per_dim=10)
    assert plan.max_dims(0) == len(plan.train(0)) // 10 == 24
    assert len(PreparedView(x, plan).whitened(0, 1e-10).g) == 24  # the layer: its 24 leading components
    assert len(PreparedView(y, plan).whitened(0, 1e-10).g) == k - 1  # one-hot (centred: rank k - 1), not cut
    assert crossval_plan(n, labels=labels).max_dims(0) is None
    with pytest.raises(ValueError, match="samples_per_dim"):
        crossval_plan(n, samples_per_dim=-1)
