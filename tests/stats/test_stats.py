"""The shared statistics primitives, each on inputs with a known answer."""

import numpy as np
import pytest

from speechneurons import stats


def test_percentile_interval_at_a_level():
    x = np.arange(101.0)  # quantile q of 0..100 is 100 q
    assert stats.percentile_interval(x, 0.95) == pytest.approx((2.5, 97.5))
    assert stats.percentile_interval(x, 0.5) == pytest.approx((25.0, 75.0))
    assert stats.percentile_interval(np.r_[x, np.nan, np.inf], 0.9) == pytest.approx((5.0, 95.0))  # finite only
    assert np.isnan(stats.percentile_interval([np.nan], 0.95)).all()
    with pytest.raises(ValueError, match="level"):
        stats.percentile_interval(x, 95)


def test_centred_interval_holds_the_percentile_interval_and_its_mirror_image():
    x = np.arange(101.0)  # percentile interval (2.5, 97.5) at 0.95
    # resamples symmetric about the estimate: the percentile interval itself
    assert stats.centred_interval(x, 50.0, 0.95) == pytest.approx((2.5, 97.5))
    # resamples shifted up by 20 from the estimate: widened to the estimate -+ 67.5, which holds
    # the percentile interval (22.5, 117.5) and the basic one mirrored about 50, (-17.5, 77.5)
    assert stats.centred_interval(x + 20.0, 50.0, 0.95) == pytest.approx((-17.5, 117.5))
    # resamples that all lie on one side of the estimate: it stays inside, at the centre
    assert stats.centred_interval([3.0] * 3 + [5.0] * 3, 1.0, 0.95) == pytest.approx((-3.0, 5.0))
    assert stats.centred_interval([-5.0] * 3 + [-3.0] * 3, 1.0, 0.95) == pytest.approx((-5.0, 7.0))
    assert np.isnan(stats.centred_interval(x, np.nan, 0.95)).all()
    assert np.isnan(stats.centred_interval([np.nan], 1.0, 0.95)).all()


def test_resamples_are_seeded_draws_with_replacement():
    idx = stats.resample_index(5, 3, seed=0)
    assert idx.shape == (3, 5) and idx.min() >= 0 and idx.max() < 5
    np.testing.assert_array_equal(idx, stats.resample_index(5, 3, seed=0))
    w = stats.resample_weights(5, 3, seed=0)
    np.testing.assert_array_equal(w, np.stack([np.bincount(r, minlength=5) for r in idx]))
    assert (w.sum(axis=1) == 5).all()


def test_unit_weights_resample_whole_units():
    units = np.array(["a", "a", "b", "c", "c", "c"])
    w = stats.unit_weights(units, seed=3)
    draws = np.bincount(stats.resample_index(3, 1, seed=3)[0], minlength=3)  # units a, b, c
    np.testing.assert_array_equal(w, draws[[0, 0, 1, 2, 2, 2]])
    assert len(stats.unit_weights(np.array([]), seed=0)) == 0


def test_bootstrap_ratio_and_paired_delta():
    sums, counts = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 2.0, 2.0])
    point, lo, hi = stats.bootstrap_ratio(sums, counts, 2000, 0, 0.95)
    assert point == 1.25 and lo < 1.25 < hi
    assert np.isnan(stats.bootstrap_ratio(sums, counts, 0, 0, 0.95)[1])
    # a constant shift of every unit: the paired difference has no spread at all
    d, dlo, dhi = stats.bootstrap_delta(sums + 2, counts, sums, counts, 500, 0, 0.95)
    assert d == pytest.approx(1.0) and dlo == pytest.approx(1.0) and dhi == pytest.approx(1.0)
    assert np.isnan(stats.bootstrap_delta([], [], [], [], 10, 0, 0.95)[0])


def test_rank_p_value():
    assert stats.rank_p_value(5.0, [1, 2, 5, 7]) == pytest.approx(3 / 5)
    assert stats.rank_p_value(10.0, [1, 2, 5, 7]) == pytest.approx(1 / 5)
    assert np.isnan(stats.rank_p_value(1.0, [])) and np.isnan(stats.rank_p_value(np.nan, [1.0]))


def test_equal_count_bins():
    edges = stats.equal_count_edges(np.arange(1.0, 10.0), 3)  # tertiles of 1..9
    np.testing.assert_allclose(edges, [11 / 3, 19 / 3])
    np.testing.assert_array_equal(stats.equal_count_bins(np.arange(1.0, 10.0), edges), [0, 0, 0, 1, 1, 1, 2, 2, 2])
    assert stats.equal_count_bins([19 / 3], edges)[0] == 2  # a value on a cut point goes up
    assert len(stats.equal_count_edges([1.0, 2.0], 1)) == 0


def test_bootstrap_ci_covers_point_and_shrinks_with_n():
    rng = np.random.default_rng(0)
    counts = rng.integers(5, 30, size=40)
    sums = rng.binomial(counts, 0.3)
    point, lo, hi = stats.bootstrap_ratio(sums, counts, resamples=500, seed=0, level=0.95)
    assert point == pytest.approx(sums.sum() / counts.sum())
    assert lo <= point <= hi
    assert stats.bootstrap_ratio(sums, counts, 500, 0, 0.95) == (point, lo, hi)  # seeded
    big = stats.bootstrap_ratio(np.tile(sums, 10), np.tile(counts, 10), 500, 0, 0.95)
    assert big[2] - big[1] < hi - lo
    d = stats.bootstrap_delta(sums, counts, sums, counts, 200, 0, 0.95)
    assert d == (0.0, 0.0, 0.0)
    d = stats.bootstrap_delta(sums + counts // 2, counts, sums, counts, 200, 0, 0.95)
    assert d[1] <= d[0] <= d[2] and d[1] > 0
