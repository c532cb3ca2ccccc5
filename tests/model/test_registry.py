"""The model registry: offline loading, frame grid, normalisation, errors."""

import json

import numpy as np
import pytest
import torch
import transformers

from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from speechneurons.model.ffn import capture_ffn
from speechneurons.model.registry import (
    ARCHITECTURES,
    ModelNotAvailableError,
    check_frame_grid,
    download_model,
    is_hub_id,
    load_model,
    model_class,
    normalize_wave,
    num_layers_of,
)
from tests.helpers.models import tiny_config


def save_tiny(path, model_type="hubert", seed=0, **kw):
    torch.manual_seed(seed)
    model = model_class(model_type)(tiny_config(model_type, **kw))
    model.save_pretrained(path)
    return model.eval()


@pytest.mark.parametrize("model_type", list(ARCHITECTURES))
def test_load_local_folder(tmp_path, model_type):
    save_tiny(tmp_path, model_type, layerdrop=0.3)
    loaded = load_model(str(tmp_path), device="cpu")
    assert loaded.model_type == model_type
    assert not loaded.model.training
    assert loaded.model.config.layerdrop == 0.0
    assert loaded.model.config.apply_spec_augment is False
    assert loaded.num_layers == 2 and loaded.ffn_widths == [64, 64] and loaded.ffn_width == 64
    assert loaded.grid.same_frames_as(FrameGrid())
    assert num_layers_of(str(tmp_path)) == 2


def test_frame_counts_come_from_conv_stack(tmp_path):
    """num_frames equals the number of frames the model really outputs."""
    save_tiny(tmp_path)
    loaded = load_model(str(tmp_path), device="cpu")
    for n in (400, 719, 720, 16000, 23456):
        with torch.no_grad():
            out = loaded.model(torch.zeros(1, n)).last_hidden_state
        assert out.shape[1] == loaded.num_frames(n)
    assert loaded.num_frames(399) == 0


def test_odd_conv_stack_gives_its_own_grid_and_check_fails(tmp_path):
    save_tiny(tmp_path, conv_dim=(16, 16, 16), conv_kernel=(10, 4, 4), conv_stride=(5, 4, 4))
    loaded = load_model(str(tmp_path), device="cpu")
    assert loaded.grid.hop == 80
    with torch.no_grad():
        assert loaded.model(torch.zeros(1, 8000)).last_hidden_state.shape[1] == loaded.num_frames(8000)
    with pytest.raises(BadInputError, match="frames.conv_kernel"):
        check_frame_grid(loaded, FrameGrid())
    check_frame_grid(loaded, loaded.grid)


def test_do_normalize_from_preprocessor_config(tmp_path):
    save_tiny(tmp_path)
    assert load_model(str(tmp_path), device="cpu").do_normalize is False  # group norm, no file
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"do_normalize": True, "sampling_rate": 16000}))
    loaded = load_model(str(tmp_path), device="cpu")
    assert loaded.do_normalize is True
    wave = np.random.default_rng(0).normal(3.0, 2.0, 4000).astype(np.float32)
    x, mask = loaded.prepare_batch([wave, wave[:1000]])
    assert x.shape == (2, 4000) and mask[1].sum() == 1000 and float(x[1, 1000:].abs().sum()) == 0
    np.testing.assert_allclose(x[0].numpy(), normalize_wave(wave), rtol=1e-6)
    assert abs(float(x[1, :1000].mean())) < 1e-5 and abs(float(x[1, :1000].std()) - 1) < 1e-2


def test_layer_norm_model_normalises_without_preprocessor(tmp_path):
    save_tiny(tmp_path, feat_extract_norm="layer")
    assert load_model(str(tmp_path), device="cpu").do_normalize is True


def test_save_load_round_trip_identical_outputs(tmp_path):
    model = save_tiny(tmp_path)
    loaded = load_model(str(tmp_path), device="cpu")
    x = torch.randn(1, 8000)
    with torch.no_grad(), capture_ffn(model) as before, capture_ffn(loaded.model) as after:
        assert torch.equal(model(x).last_hidden_state, loaded.model(x).last_hidden_state)
    assert set(before) == set(after) == {1, 2}
    for layer in before:
        assert torch.equal(before[layer], after[layer])


def test_model_not_in_cache_says_how_to_get_it(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    with pytest.raises(ModelNotAvailableError) as err:
        load_model("facebook/hubert-base-ls960", device="cpu")
    msg = str(err.value)
    assert "facebook/hubert-base-ls960" in msg and "huggingface-cli download facebook/hubert-base-ls960" in msg
    assert "save_pretrained" in msg and "model.path" in msg
    with pytest.raises(ModelNotAvailableError, match="local folder"):
        load_model(str(tmp_path / "no-such-folder"), device="cpu")


def test_download_needs_the_hub_and_says_so(tmp_path, monkeypatch):
    """model.download: a failed fetch (here: offline) names the model and what to check; a local
    folder is never fetched. The fetch itself: tests/workflow/test_model_download.py."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(ModelNotAvailableError) as err:
        download_model("acme/not-cached")
    assert "model.download is true but the model cannot be fetched" in str(err.value)
    assert "HF_HUB_OFFLINE" in str(err.value)
    with pytest.raises(ModelNotAvailableError, match="cannot be fetched"):
        num_layers_of("acme/not-cached", download=True)
    with pytest.raises(ModelNotAvailableError, match="nothing is downloaded"):
        num_layers_of("acme/not-cached")
    save_tiny(tmp_path / "folder")
    assert download_model(str(tmp_path / "folder")) == tmp_path / "folder"
    assert is_hub_id("facebook/hubert-base-ls960") and not is_hub_id(str(tmp_path / "folder"))
    assert not is_hub_id("./models/x") and not is_hub_id("")


def test_unsupported_architecture(tmp_path):
    transformers.BertConfig(
        hidden_size=8, num_hidden_layers=1, num_attention_heads=1, intermediate_size=8
    ).save_pretrained(tmp_path)
    with pytest.raises(BadInputError, match="not supported"):
        load_model(str(tmp_path), device="cpu")


def test_base_size_hubert_random_weights(tmp_path):
    """The real facebook/hubert-base-ls960 code path, on a base-size model of random weights."""
    torch.manual_seed(0)
    transformers.HubertModel(transformers.HubertConfig()).save_pretrained(tmp_path)
    (tmp_path / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "do_normalize": True,
                "feature_size": 1,
                "padding_side": "right",
                "padding_value": 0,
                "return_attention_mask": False,
                "sampling_rate": 16000,
            }
        )
    )
    loaded = load_model(str(tmp_path), device="cpu")
    assert loaded.num_layers == 12 and loaded.ffn_widths == [3072] * 12 and loaded.do_normalize
    check_frame_grid(loaded, FrameGrid())
    x, mask = loaded.prepare_batch([np.random.default_rng(0).normal(size=16000).astype(np.float32)])
    from speechneurons.model.ffn import capture_ffn

    with torch.no_grad(), capture_ffn(loaded.model, [1, 12]) as cap:
        loaded.model(x, attention_mask=mask)
    assert cap[12].shape == (1, 49, 3072)


def test_random_weights_keep_the_architecture_and_change_the_weights(tmp_path):
    save_tiny(tmp_path, "hubert")
    trained = load_model(str(tmp_path), device="cpu")
    a = load_model(str(tmp_path), device="cpu", random_weights=True, seed=3)
    b = load_model(str(tmp_path), device="cpu", random_weights=True, seed=3)
    assert a.num_layers == trained.num_layers and a.ffn_widths == trained.ffn_widths and a.grid == trained.grid
    wa, wt = dict(a.model.named_parameters()), dict(trained.model.named_parameters())
    assert set(wa) == set(wt)
    assert any(not torch.equal(wa[k], wt[k]) for k in wa)
    assert all(torch.equal(wa[k], dict(b.model.named_parameters())[k]) for k in wa)  # seeded
