"""The SAE module: sparse products against dense references, the decoder constraint, the input
scale, save/load."""

import numpy as np
import torch

from speechneurons.saes import SparseAutoencoder, evaluate_sae, train_sae
from speechneurons.saes.sparse_ops import layout_from_mask, sampled_linear, sparse_decode
from speechneurons.saes.training import geometric_median, input_scale
from tests.helpers.sparse_dictionary import sae_settings, sparse_dictionary_data


def test_sparse_products_match_dense_reference_and_gradcheck():
    g = torch.Generator().manual_seed(0)
    n, d, f = 6, 5, 9
    x = torch.randn(n, d, dtype=torch.float64, generator=g)
    bp = torch.randn(d, dtype=torch.float64, generator=g, requires_grad=True)
    w = torch.randn(f, d, dtype=torch.float64, generator=g, requires_grad=True)
    b = torch.randn(f, dtype=torch.float64, generator=g, requires_grad=True)
    wd = torch.randn(f, d, dtype=torch.float64, generator=g, requires_grad=True)
    mask = torch.rand(n, f, generator=g) < 0.4
    mask[2] = False  # a token with no entry
    lay = layout_from_mask(mask)

    def sparse(bp, w, b, wd):
        c = (x - bp).detach()
        return sparse_decode(torch.relu(sampled_linear(c, bp, w, b, (c @ w.T + b).detach(), lay)), wd, lay)

    def dense(bp, w, b, wd):
        return (torch.relu((x - bp) @ w.T + b) * mask) @ wd

    args = (bp, w, b, wd)
    out_s, out_d = sparse(*args), dense(*args)
    assert torch.allclose(out_s, out_d)
    go = torch.randn_like(out_s)
    for a, c in zip(torch.autograd.grad(out_s, args, go), torch.autograd.grad(out_d, args, go)):
        assert torch.allclose(a, c)
    assert torch.autograd.gradcheck(sparse, args)


def test_gradient_projection_removes_exactly_the_parallel_component():
    sae = SparseAutoencoder.build(8, sae_settings(expansion_factor=2.0), torch.Generator().manual_seed(0))
    g = torch.randn(16, 8, generator=torch.Generator().manual_seed(1))
    sae.W_dec.grad = g.clone()
    sae.remove_parallel_gradient()
    d = sae.W_dec.detach()
    assert torch.allclose((sae.W_dec.grad * d).sum(1), torch.zeros(16), atol=1e-6)
    assert torch.allclose(sae.W_dec.grad, g - (g * d).sum(1, keepdim=True) * d)


def test_decoder_directions_stay_unit_norm_and_encoder_starts_as_decoder():
    torch.set_num_threads(1)
    sae = SparseAutoencoder.build(32, sae_settings(), torch.Generator().manual_seed(0))
    assert torch.equal(sae.W_enc, sae.W_dec)
    assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(64))
    x = sparse_dictionary_data(n=2000).x
    for arch in ("topk", "mutual_choice", "feature_choice"):
        sae, _ = train_sae(x, sae_settings(arch, steps=15), "cpu", 0)
        # unit norm up to the float16 rounding of the stored matrices (relative step 2^-11)
        assert torch.allclose(sae.W_dec.norm(dim=1), torch.ones(sae.n_latents), atol=1e-3)


def test_trained_sae_is_stored_in_half_and_loads_back_exactly(tmp_path):
    """The matrices are stored in float16; training ends rounded to those values, so the SAE
    that was evaluated is the one that loads back (outputs equal, file about half the size)."""
    from safetensors.torch import load_file

    torch.set_num_threads(1)
    x = sparse_dictionary_data(n=2000).x
    sae, _ = train_sae(x, sae_settings("feature_choice", steps=15), "cpu", 0)
    sae.save(tmp_path / "sae")
    stored = load_file(str(tmp_path / "sae" / "sae.safetensors"))
    assert stored["W_dec"].dtype == stored["W_enc"].dtype == torch.float16
    assert stored["b_pre"].dtype == torch.float32
    back = SparseAutoencoder.load(tmp_path / "sae")
    assert back.W_dec.dtype == torch.float32
    xs = torch.as_tensor(x[:300], dtype=torch.float32)
    assert torch.equal(back(xs), sae(xs))


def test_input_scale_and_geometric_median_known_answers():
    x = torch.tensor([[3.0, 4.0], [0.0, 5.0]])  # ||x||^2 = 25 each -> s^2 = 2 / 25
    assert np.isclose(input_scale(x), np.sqrt(2 / 25))
    pts = torch.tensor([[0.0], [1.0], [10.0]])  # 1-D: the median
    assert abs(float(geometric_median(pts)[0]) - 1.0) < 1e-3
    square = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    assert torch.allclose(geometric_median(square), torch.tensor([1.0, 1.0]), atol=1e-5)


def test_fvu_is_scale_free_and_save_load_round_trips(tmp_path):
    torch.set_num_threads(1)
    data = sparse_dictionary_data(n=3000)
    s = sae_settings("mutual_choice", steps=40)
    sae1, _ = train_sae(data.x, s, "cpu", 0)
    sae2, _ = train_sae(100.0 * data.x, s, "cpu", 0)
    assert np.isclose(float(sae1.input_scale), 100.0 * float(sae2.input_scale), rtol=1e-5)
    ev1, ev2 = evaluate_sae(sae1, data.x[:500]), evaluate_sae(sae2, 100.0 * data.x[:500])
    assert np.isclose(ev1.fvu, ev2.fvu, rtol=1e-3, atol=1e-4)
    sae1.save(tmp_path / "sae")
    loaded = SparseAutoencoder.load(tmp_path / "sae")
    assert loaded.settings == s and float(loaded.selector.theta) == float(sae1.selector.theta)
    xt = torch.from_numpy(data.x[:100])
    assert torch.equal(loaded(xt), sae1(xt))
