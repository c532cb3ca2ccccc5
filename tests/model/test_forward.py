"""Forward passes that do not depend on batching: front-end per utterance, transformer batched."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechneurons.model.ffn import capture_ffn, mask_ffn
from speechneurons.model.forward import (
    SharedPasses,
    batches,
    encode,
    front_end,
    front_end_batches,
    front_ends,
    pad,
)
from speechneurons.model.registry import ARCHITECTURES, load_model, model_class
from tests.helpers.models import tiny_config


def _loaded(tmp_path, model_type, **kw):
    torch.manual_seed(0)
    model = model_class(model_type)(tiny_config(model_type, **({"layers": 2} | kw)))
    model.save_pretrained(tmp_path / model_type)
    return load_model(str(tmp_path / model_type), device="cpu")


def _waves(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in lengths]


def test_batches_group_by_length_and_cover_everything():
    assert batches([10, 50, 45, 30], 100, 1.2) == [[1, 2], [3], [0]]
    assert batches([10, 50, 45, 30], 0, 1.2) == [[1], [2], [3], [0]]
    assert sorted(i for b in batches(list(range(1, 40)), 60, 1.5) for i in b) == list(range(39))


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_batched_hidden_states_and_ffn_equal_one_utterance_at_a_time(tmp_path, model_type):
    """Mixed lengths padded together give what each utterance gives alone (group-norm models too)."""
    loaded = _loaded(tmp_path, model_type)
    waves = _waves([16000, 12800, 9000, 5000])
    alone = []
    with torch.inference_mode(), capture_ffn(loaded.model) as ffn:
        for w in waves:
            out = encode(loaded, pad([0], [front_end(loaded, w)]))
            alone.append(([h[0] for h in out.hidden_states], {k: v[0].clone() for k, v in ffn.items()}))
        for batch in front_end_batches(loaded, waves, max_frames=10**6, max_pad_ratio=10.0):
            if model_type == "data2vec-audio":  # never padded: its positional convolutions see the padding
                assert len(batch.index) == 1
            else:
                assert len(batch.index) == 4 and not batch.mask.all()
            out = encode(loaded, batch)
            for b, i in enumerate(batch.index):
                n = batch.lengths[b]
                for layer, h in enumerate(out.hidden_states):
                    torch.testing.assert_close(h[b, :n], alone[i][0][layer], rtol=1e-5, atol=1e-5)
                for layer, a in ffn.items():
                    torch.testing.assert_close(a[b, :n], alone[i][1][layer], rtol=1e-5, atol=1e-5)


def test_encoder_pass_equals_the_full_forward(tmp_path):
    loaded = _loaded(tmp_path, "hubert")
    wave = _waves([11000])[0]
    with torch.inference_mode():
        full = loaded.model(torch.from_numpy(wave)[None], output_hidden_states=True).hidden_states
        ours = encode(loaded, pad([0], [front_end(loaded, wave)])).hidden_states
    for a, b in zip(full, ours, strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("model_type", ["hubert", "wavlm"])
def test_encoder_pass_up_to_a_layer_equals_the_full_pass_there(tmp_path, model_type):
    """Stopping after layer L gives the full pass's hidden states 0..L, and the layers above never run."""
    loaded = _loaded(tmp_path, model_type, hidden=32)
    batch = pad([0, 1], [front_end(loaded, w) for w in _waves([11000, 9000])])
    with torch.inference_mode():
        full = encode(loaded, batch).hidden_states
        with capture_ffn(loaded.model, [2]) as ffn:
            first = encode(loaded, batch, upto=1)
            assert 2 not in ffn
        none = encode(loaded, batch, upto=0).hidden_states
        assert len(encode(loaded, batch, upto=2).hidden_states) == 3
    assert len(first.hidden_states) == 2 and len(none) == 1
    for a, b in zip(full[:2], first.hidden_states, strict=True):
        torch.testing.assert_close(b, a)
    torch.testing.assert_close(first.last_hidden_state, full[1])
    torch.testing.assert_close(none[0], full[0])
    with pytest.raises(ValueError, match="upto layer 3"):
        encode(loaded, batch, upto=3)


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_shared_passes_give_what_separate_passes_give(tmp_path, model_type):
    """Passes over one batch sharing the projection, the positional embedding and the unchanged
    layers below each pass's first change give exactly the numbers of separate passes; the
    reused layers never run again."""
    loaded = _loaded(tmp_path, model_type, layers=3)
    waves = _waves([12000, 9000])
    (batch,) = front_end_batches(loaded, waves, max_frames=10**6, max_pad_ratio=10.0) if model_type != (
        "data2vec-audio") else [pad([0], [front_end(loaded, waves[0])])]  # fmt: skip
    cases = [(None, {}), (2, {2: [0, 3, 5]}), (3, {3: [1]}), (1, {1: [2], 3: [4]}), (None, {})]
    with torch.inference_mode():
        separate = []
        for _, masks in cases:
            with mask_ffn(loaded.model, masks):
                separate.append(encode(loaded, batch).hidden_states)
        shared, calls = SharedPasses(), []
        hooks = [layer.register_forward_hook(lambda m, a, o, i=i: calls.append(i))
                 for i, layer in enumerate(loaded.model.encoder.layers, 1)]  # fmt: skip
        together = []
        for first, masks in cases:
            calls.clear()
            with mask_ffn(loaded.model, masks):
                together.append(encode(loaded, batch, shared=shared, first_changed=first).hidden_states)
            ran = 1 if first is None and not together[1:] else (first or 4)
            assert calls == list(range(ran, 4)), (first, calls)
        for h in hooks:
            h.remove()
    for a, b in zip(separate, together, strict=True):
        for x, y in zip(a, b, strict=True):
            torch.testing.assert_close(y, x, rtol=0, atol=0)
    assert len(loaded.model.encoder.layers) == 3 and all(
        type(layer).__name__ != "_Returns" for layer in loaded.model.encoder.layers
    )


def test_masks_apply_to_encoder_passes(tmp_path):
    loaded = _loaded(tmp_path, "hubert")
    batch = pad([0], [front_end(loaded, _waves([8000])[0])])
    with torch.inference_mode():
        plain = encode(loaded, batch).last_hidden_state
        with mask_ffn(loaded.model, {1: [0, 1, 2]}), capture_ffn(loaded.model, [1]) as ffn:
            masked = encode(loaded, batch).last_hidden_state
            assert torch.all(ffn[1][..., :3] == 0)
    assert not torch.allclose(plain, masked)


@pytest.mark.parametrize("model_type", sorted(ARCHITECTURES))
def test_front_ends_in_one_padded_pass_equal_one_utterance_at_a_time(tmp_path, model_type):
    """The padded conv pass with per-utterance GroupNorm statistics gives each utterance's own
    front-end output (and, for the group-norm models, differs from a plain padded pass)."""
    loaded = _loaded(tmp_path, model_type)
    waves = _waves([16000, 12800, 9000, 5000], seed=1)
    with torch.inference_mode():
        alone = [front_end(loaded, w) for w in waves]
        together = front_ends(loaded, waves)
        for a, t in zip(alone, together, strict=True):
            assert a.shape == t.shape
            torch.testing.assert_close(t, a, rtol=1e-5, atol=1e-5)
        fe = loaded.model.feature_extractor
        first = getattr(fe, "conv_layers", [None])[0]  # the log-Mel front-end has no conv stack
        if isinstance(getattr(first, "layer_norm", None), torch.nn.GroupNorm):
            x, _ = loaded.prepare_batch(waves)
            plain = fe(x).transpose(1, 2)
            n = alone[-1].shape[0]
            assert not torch.allclose(plain[-1, :n], alone[-1], atol=1e-3)  # padding reaches the group norm
