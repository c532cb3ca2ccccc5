"""Selection rules: each one's budget holds exactly, and it keeps the right entries."""

import pytest
import torch

from speechneurons.saes.feature_choice import FeatureChoiceZipf, capacities, zipf_weights
from speechneurons.saes.mutual_choice import MutualChoice, batch_topk_layout, kth_largest
from speechneurons.saes.registry import SAE_ARCHITECTURES
from speechneurons.saes.topk import TopK
from tests.helpers.sparse_dictionary import sae_settings


def _dense_mask(layout):
    m = torch.zeros(layout.n_tokens, layout.n_latents, dtype=torch.bool)
    m[layout.token, layout.latent] = True
    return m


def test_topk_keeps_exactly_k_largest_per_token():
    pre = torch.randn(50, 40, generator=torch.Generator().manual_seed(0))
    lay = TopK(40, sae_settings("topk", k=7)).select(pre)
    mask = _dense_mask(lay)
    assert len(lay.token) == 50 * 7
    assert (mask.sum(1) == 7).all()
    kept_min = torch.where(mask, pre, torch.inf).min(1).values
    dropped_max = torch.where(mask, -torch.inf, pre).max(1).values
    assert (kept_min > dropped_max).all()
    assert (torch.diff(lay.token) >= 0).all()


@pytest.mark.parametrize("shape", [(30, 20), (600, 200)])  # exact kthvalue, and the sampled bracket
def test_mutual_choice_keeps_exactly_m_largest_of_the_batch(shape):
    pre = torch.randn(*shape, generator=torch.Generator().manual_seed(1)) ** 3
    k = 5
    sel = MutualChoice(shape[1], sae_settings("mutual_choice", k=k))
    lay = sel.select(pre)
    mask = _dense_mask(lay)
    assert len(lay.token) == k * shape[0] and int(mask.sum()) == k * shape[0]
    assert pre[mask].min() >= pre[~mask].max()
    assert mask.sum(1).float().std() > 0  # tokens get different numbers of latents
    assert torch.isclose(sel.theta, pre[mask].min())  # first observation taken as it is


def test_mutual_choice_breaks_ties_to_the_exact_budget():
    pre = torch.zeros(10, 8)
    pre[0, :3] = 1.0  # 3 entries above, 77 tied at 0
    lay, thr = batch_topk_layout(pre, 20)
    assert len(lay.token) == 20 and float(thr) == 0.0
    assert _dense_mask(lay)[0, :3].all()


def test_kth_largest_is_exact_on_large_inputs():
    x = torch.randn(300_000, generator=torch.Generator().manual_seed(2))
    for m in (1, 1000, 150_000, 300_000):
        assert float(kth_largest(x, m)) == float(x.sort(descending=True).values[m - 1])


def test_capacities_water_fill_and_sum_to_the_budget():
    m = capacities(torch.tensor([4.0, 1, 1, 1, 1]), budget=10, cap=4)
    assert m.tolist() == [4, 2, 2, 1, 1]  # 4 capped; 6 shared as 1.5 each; remainders to the lower indices
    w = zipf_weights(torch.zeros(100), 1.0)
    m = capacities(w, budget=16 * 64, cap=64)
    assert int(m.sum()) == 16 * 64 and int(m.max()) <= 64
    assert (torch.diff(m) <= 0).all()  # Zipf: non-increasing with rank (rank = index here)
    assert capacities(torch.ones(8), budget=12, cap=3).tolist() == [2, 2, 2, 2, 1, 1, 1, 1]


@pytest.mark.parametrize("arch", ["feature_choice", "feature_choice_zipf"])
def test_feature_choice_caps_each_latent_and_spends_the_budget(arch):
    n, f, k = 64, 32, 4
    pre = torch.randn(n, f, generator=torch.Generator().manual_seed(3))
    sel = SAE_ARCHITECTURES[arch](f, sae_settings(arch, k=k))
    m = sel.capacities(n)
    assert int(m.sum()) == k * n and int(m.max()) <= n
    if arch == "feature_choice":
        assert (m == k * n // f).all()
    lay = sel.select(pre)
    mask = _dense_mask(lay)
    assert len(lay.token) == k * n
    assert (mask.sum(0) == m).all()  # each latent keeps exactly its m_i (all m_i <= N here)
    for i in range(f):  # ... and those are its m_i largest tokens
        if 0 < m[i] < n:
            assert pre[mask[:, i], i].min() > pre[~mask[:, i], i].max()
    assert (torch.diff(lay.token) >= 0).all()
    assert sel.theta_seen.all()


def test_feature_choice_zipf_ranks_follow_usage():
    sel = FeatureChoiceZipf(4, sae_settings("feature_choice_zipf", k=1, zipf_exponent=1.0))
    sel.usage.copy_(torch.tensor([0.1, 0.4, 0.0, 0.2]))
    m = sel.capacities(100)  # ranks 3, 1, 4, 2 -> weights 1/3, 1, 1/4, 1/2 of sum 25/12; budget 100
    assert m.tolist() == [16, 48, 12, 24]


def test_threshold_inference_uses_the_trained_thresholds():
    sel = MutualChoice(6, sae_settings("mutual_choice", k=2))
    sel.theta.fill_(0.5)
    sel.theta_seen.fill_(True)
    pre = torch.tensor([[0.1, 0.6, 0.7, -1.0, 0.4, 2.0]])
    lay = sel.infer(pre)
    assert lay.latent.tolist() == [1, 2, 5]
