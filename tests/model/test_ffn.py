"""FFN sites, capture/mask hooks and structural pruning (tiny random models, CPU)."""

import pytest
import torch

from speechneurons.model.ffn import capture_ffn, ffn_sites, ffn_widths, mask_ffn, prune_ffn_, without_ffn
from speechneurons.model.registry import ARCHITECTURES, load_model, model_class
from tests.helpers.models import tiny_config


def make_model(model_type="hubert", seed=0, **kw):
    torch.manual_seed(seed)
    model = model_class(model_type)(tiny_config(model_type, **kw))
    return model.eval()


@pytest.mark.parametrize("model_type", list(ARCHITECTURES))
def test_sites_found_by_architecture(model_type):
    model = make_model(model_type, layers=3)
    sites = ffn_sites(model)
    assert [s.layer for s in sites] == [1, 2, 3]
    for s, layer in zip(sites, model.encoder.layers):
        assert s.fc1 is layer.feed_forward.intermediate_dense
        assert s.fc2 is layer.feed_forward.output_dense
        assert s.dropout is layer.feed_forward.intermediate_dropout
        assert s.width == 64


@pytest.mark.parametrize("model_type", list(ARCHITECTURES))
def test_capture_equals_manual_forward_through_layer(model_type):
    """The hook gives exactly act(fc1(x)) for the FFN input x of every layer."""
    model = make_model(model_type)
    inputs = {}
    handles = [
        s.block.register_forward_pre_hook(lambda m, a, l=s.layer: inputs.__setitem__(l, a[0])) for s in ffn_sites(model)
    ]
    x = torch.randn(2, 8000)
    with torch.no_grad(), capture_ffn(model) as cap:
        model(x)
    for h in handles:
        h.remove()
    for s in ffn_sites(model):
        manual = s.act(s.fc1(inputs[s.layer]))
        assert torch.equal(cap[s.layer], manual)
        assert cap[s.layer].shape == (2, 24, 64)


def test_capture_selected_layers_only():
    model = make_model(layers=3)
    with torch.no_grad(), capture_ffn(model, [2]) as cap:
        model(torch.randn(1, 4000))
    assert list(cap) == [2]
    with pytest.raises(ValueError, match="layers 1..3"), capture_ffn(model, [4]):
        pass


def _n_hooks(model):
    return sum(len(m._forward_pre_hooks) + len(m._forward_hooks) for m in model.modules())


def test_hooks_removed_on_error():
    model = make_model()
    with pytest.raises(RuntimeError), capture_ffn(model), mask_ffn(model, {1: [0, 1]}):
        assert _n_hooks(model) == 3
        raise RuntimeError("boom")
    assert _n_hooks(model) == 0


def test_mask_zeroes_neurons_and_changes_output():
    model = make_model()
    x = torch.randn(1, 8000)
    with torch.no_grad():
        ref = model(x).last_hidden_state
        with mask_ffn(model, {1: [3, 5]}), capture_ffn(model) as cap:
            out = model(x).last_hidden_state
    assert torch.all(cap[1][..., [3, 5]] == 0)
    assert (cap[1][..., 0] != 0).any()
    assert not torch.allclose(ref, out)


@pytest.mark.parametrize("model_type", ["hubert", "wavlm"])
def test_prune_equals_mask_and_survives_save_load(tmp_path, model_type):
    """A pruned model saved and reloaded through load_model gives the masked model's outputs."""
    model = make_model(model_type, layers=3)
    gen = torch.Generator().manual_seed(1)
    drop = {1: torch.randperm(64, generator=gen)[:20], 3: torch.randperm(64, generator=gen)[:40]}
    keep = {l: torch.tensor(sorted(set(range(64)) - set(d.tolist()))) for l, d in drop.items()}
    x = torch.randn(2, 8000)
    with torch.no_grad(), mask_ffn(model, drop):
        masked = model(x).last_hidden_state
    prune_ffn_(model, keep)
    assert ffn_widths(model) == [44, 64, 24]
    assert model.config.ffn_widths == [44, 64, 24]
    with torch.no_grad():
        pruned = model(x).last_hidden_state
    torch.testing.assert_close(pruned, masked, rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path / "pruned")
    loaded = load_model(str(tmp_path / "pruned"), device="cpu")
    assert loaded.ffn_widths == [44, 64, 24]
    assert sum(p.numel() for p in loaded.model.parameters()) == sum(p.numel() for p in model.parameters())
    with torch.no_grad():
        reloaded = loaded.model(x).last_hidden_state
    torch.testing.assert_close(reloaded, masked, rtol=1e-5, atol=1e-5)


def test_prune_rejects_bad_indices():
    with pytest.raises(ValueError, match="0..63"):
        prune_ffn_(make_model(), {1: [64]})


@pytest.mark.parametrize("model_type", ["hubert", "wavlm"])
def test_without_equals_mask_and_restores_the_model(model_type):
    """Passes without some neurons (their weights left out) give the masked passes' outputs, in
    every layer, also with every neuron of a layer left out; the model is whole again after."""
    model = make_model(model_type, layers=3)
    gen = torch.Generator().manual_seed(2)
    drop = {1: torch.randperm(64, generator=gen)[:20], 2: torch.arange(64), 3: torch.tensor([5])}
    x = torch.randn(2, 8000)
    before = {name: p.clone() for name, p in model.named_parameters()}
    with torch.inference_mode():
        with mask_ffn(model, drop):
            masked = model(x, output_hidden_states=True).hidden_states
        with without_ffn(model, drop):
            assert ffn_widths(model) == [44, 0, 63]
            left_out = model(x, output_hidden_states=True).hidden_states
        whole = model(x).last_hidden_state
    for a, b in zip(masked, left_out, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)
    assert ffn_widths(model) == [64, 64, 64]
    assert all(torch.equal(p, before[name]) for name, p in model.named_parameters())
    assert not torch.allclose(whole, masked[-1])
    with pytest.raises(ValueError, match="0..63"), without_ffn(model, {1: [64]}):
        pass
    assert ffn_widths(model) == [64, 64, 64]
