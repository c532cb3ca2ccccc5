"""What "activated" means (speechneurons.activated): the top tau by |a|, ties to lower indices."""

import numpy as np
import pytest
import torch

from speechneurons import activated as ac


def _mask(x, k):
    mask = torch.zeros(x.shape, dtype=torch.bool)
    mask.scatter_(1, ac.topk_indices(x, k), True)
    return mask


def test_topk_mask_ties_go_to_lower_indices():
    x = torch.tensor([[1.0, -1.0, 1.0, 1.0, 0.5], [0.0, 2.0, -3.0, 2.0, 2.0], [5.0, 4.0, 3.0, 2.0, 1.0]])
    m = _mask(x, 2)
    assert m.tolist() == [
        [True, True, False, False, False],
        [False, True, True, False, False],
        [True, True, False, False, False],
    ]
    assert (_mask(torch.zeros(3, 6), 4).sum(1) == 4).all()


@pytest.mark.parametrize("k", [1, 3, 7, 20])
def test_topk_mask_matches_a_stable_sort_on_heavily_tied_data(k):
    x = torch.from_numpy(np.random.default_rng(k).integers(-4, 5, size=(200, 20)).astype(np.float32))
    ref = np.zeros(x.shape, dtype=bool)
    for i, row in enumerate(np.abs(x.numpy())):
        ref[i, np.lexsort((np.arange(20), -row))[:k]] = True  # by |x| descending, then index
    np.testing.assert_array_equal(_mask(x, k).numpy(), ref)


def test_activation_rate_counts_top_tau_by_magnitude():
    acts = np.array([[5.0, -6.0, 0.1, 0.0], [0.0, 1.0, -2.0, 0.5], [3.0, 0.0, 0.0, 0.2]])
    np.testing.assert_allclose(ac.activation_rate(acts, 1), [1 / 3, 1 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(ac.activation_rate(acts, 2, chunk=1), [2 / 3, 2 / 3, 1 / 3, 1 / 3])


def test_activation_rate_breaks_ties_towards_lower_indices():
    acts = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, -2.0, 2.0, 2.0]])  # ties at the tau-th value
    np.testing.assert_allclose(ac.activation_rate(acts, 2), [0.5, 1.0, 0.5, 0.0])
    with pytest.raises(ValueError, match="tau"):
        ac.activation_rate(acts, 5)


def test_activation_rates_from_counts():
    active = [np.array([[2, 0], [1, 1]]), np.array([[0, 4]])]
    frames = [np.array([4, 2]), np.array([4])]
    np.testing.assert_allclose(ac.activation_rates(active, frames), [3 / 10, 5 / 10])


def test_rates_from_npz(tmp_path):
    path = tmp_path / "P.npz"
    np.savez(path, A__phone_type__a=np.array([[2, 0]]), n__phone_type__a=np.array([4]),
             A__phone_type__b=np.array([[1, 3]]), n__phone_type__b=np.array([6]))  # fmt: skip
    np.testing.assert_allclose(ac.rates_from_npz(path), [0.3, 0.3])


def test_rates_on_one_groups_frames(tmp_path):
    """The rate on one group's frames: a neuron active on every female frame and no male one
    has rate 1 among female frames, whatever its overall rate."""
    path = tmp_path / "P.npz"
    np.savez(path, A__gender__F=np.array([[3, 0], [1, 1]]), n__gender__F=np.array([3, 1]),
             A__gender__M=np.array([[0, 2], [0, 6]]), n__gender__M=np.array([2, 6]),
             A__phone_type__a=np.array([[4, 9]]), n__phone_type__a=np.array([12]))  # fmt: skip
    np.testing.assert_allclose(ac.rates_from_npz(path, "gender", "F"), [1.0, 0.25])
    np.testing.assert_allclose(ac.rates_from_npz(path, "gender", "M"), [0.0, 1.0])
    with pytest.raises(KeyError, match="no counts of gender = X"):
        ac.rates_from_npz(path, "gender", "X")


def test_activation_rate_of_the_masked_rows_in_chunks():
    rng = np.random.default_rng(0)
    acts = rng.normal(size=(50, 8)).astype(np.float16)
    keep = rng.random(50) < 0.5
    np.testing.assert_array_equal(ac.activation_rate(acts, 3, chunk=7, rows=keep), ac.activation_rate(acts[keep], 3))
