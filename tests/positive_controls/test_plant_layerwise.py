"""The layer-wise planted model (speechneurons.model.plant_layerwise): after planting, the top
layer's output is closer to the input of layer 1 than the layer below it (the top turns back
toward the input); the null twin's top is not."""

import numpy as np
import pytest
import torch

from speechneurons.model.ffn import encoder_layers
from speechneurons.model.forward import encode, front_end, pad
from speechneurons.model.plant_layerwise import (
    LayerwiseSettings,
    mean_correlation,
    plant_layerwise_,
    target_layer,
    trained_parameters,
)
from speechneurons.model.registry import load_model, model_class
from tests.helpers.models import tiny_config

SETTINGS = LayerwiseSettings(top_layers=1, steps=60, learning_rate=3e-3, batch_utterances=4)


def _waves(n=6, sr=16000):
    rng = np.random.default_rng(0)
    t = np.arange(sr // 2) / sr
    return [
        (0.4 * np.sin(2 * np.pi * (100 + 40 * i) * t) + 0.1 * rng.standard_normal(t.size)).astype(np.float32)
        for i in range(n)
    ]


def _load(tmp_path, stable: bool):
    torch.manual_seed(0)
    # weights large enough that each layer changes the representation (a small random init is
    # close to the identity: every layer would already be a copy of the input)
    config = tiny_config("hubert", layers=3, ffn=64, initializer_range=0.3, do_stable_layer_norm=stable)
    model_class("hubert")(config).save_pretrained(tmp_path / "m")
    return load_model(str(tmp_path / "m"), device="cpu")


def _correlations(loaded, waves):
    """Mean correlation of the last hidden state with hidden_states[0] and with the one below."""
    states = [[], [], []]
    with torch.inference_mode():
        for w in waves:
            h = encode(loaded, pad([0], [front_end(loaded, w)])).hidden_states
            for k, i in enumerate((-1, 0, -2)):
                states[k].append(h[i][0])
    top, first, below = (torch.cat(s) for s in states)
    return float(mean_correlation(top, first)), float(mean_correlation(below, first))


def test_target_layer_and_bad_settings():
    assert target_layer("layerwise", 6, 1) == 0
    assert target_layer("layerwise_null", 6, 2) == 4
    with pytest.raises(ValueError, match="top_layers"):
        target_layer("layerwise", 3, 3)
    with pytest.raises(ValueError, match="must be one of"):
        target_layer("property", 3, 1)


def test_mean_correlation_known_answers():
    x = torch.randn(200, 5, generator=torch.Generator().manual_seed(0))
    assert float(mean_correlation(3 * x + 1, x)) == pytest.approx(1.0, abs=1e-5)
    assert float(mean_correlation(-x, x)) == pytest.approx(-1.0, abs=1e-5)


@pytest.mark.parametrize("stable", [False, True])
def test_only_the_top_is_trained(tmp_path, stable):
    loaded = _load(tmp_path, stable)
    before = {k: v.clone() for k, v in loaded.model.state_dict().items()}
    flags = [p.requires_grad for p in loaded.model.parameters()]
    info = plant_layerwise_(loaded, _waves(), "layerwise", SETTINGS, seed=0)
    assert info["trained_layers"] == [3] and info["target_layer"] == 0
    trained = {id(p) for p in trained_parameters(loaded.model, 1)}
    names = {n for n, p in loaded.model.named_parameters() if id(p) in trained}
    assert any(n.startswith("encoder.layers.2.") for n in names)
    assert ("encoder.layer_norm.weight" in names) == stable  # a pre-LN encoder's final norm sits above the top
    after = loaded.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed and changed <= names
    assert [p.requires_grad for p in loaded.model.parameters()] == flags  # put back
    assert len(encoder_layers(loaded.model)) == 3


@pytest.mark.parametrize("stable", [False, True])
def test_planted_top_turns_back_toward_the_input_null_does_not(tmp_path, stable):
    waves = _waves()
    planted = _load(tmp_path / "a", stable)
    top0, below0 = _correlations(planted, waves)
    assert top0 < below0  # the random model moves away from its input with depth
    info = plant_layerwise_(planted, waves, "layerwise", SETTINGS, seed=0)
    top, below = _correlations(planted, waves)
    assert below == pytest.approx(below0, abs=1e-5)  # the layers below are frozen
    assert info["correlation_after"] > info["correlation_before"] + 0.05
    assert top > top0 + 0.05 and top > below  # closer to the input than the layer below: it turned back

    null = _load(tmp_path / "b", stable)
    info = plant_layerwise_(null, waves, "layerwise_null", SETTINGS, seed=0)
    assert info["target_layer"] == 2 and info["correlation_after"] > info["correlation_before"]
    top, below = _correlations(null, waves)
    assert top <= below + 0.01  # a copy of its input at best: no closer to layer 0 than the layer below


def test_seeded(tmp_path):
    waves = _waves()
    a, b = _load(tmp_path / "a", True), _load(tmp_path / "b", True)
    plant_layerwise_(a, waves, "layerwise", LayerwiseSettings(1, 5, 1e-3, 2), seed=3)
    plant_layerwise_(b, waves, "layerwise", LayerwiseSettings(1, 5, 1e-3, 2), seed=3)
    sa, sb = a.model.state_dict(), b.model.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_layerwise_runs_are_labelled_on_the_findings_page():
    from pathlib import Path

    import pandas as pd
    import yaml

    from speechneurons.findings.positive_controls import NULL_SIGNALS, control_table
    from speechneurons.model.plant import SIGNALS

    # every null twin of the schema, and no positive control, is labelled a null twin
    schema = Path(__file__).resolve().parents[2] / "schemas" / "planted.schema.yaml"
    enum = yaml.safe_load(schema.read_text())["properties"]["signal"]["enum"]
    assert {s for s in enum if s.endswith("null")} == set(NULL_SIGNALS) > {s for s in SIGNALS if s != "property"}
    own = pd.DataFrame({"study": ["s"], "claim": ["c"], "verdict": ["does not hold"]})
    runs = [{"name": "lw", "signal": "layerwise"}, {"name": "lw0", "signal": "layerwise_null"}]
    t = control_table(own, runs, {"lw": own.assign(verdict="holds")}, None)
    assert t["positive control (lw)"].tolist() == ["holds"]
    assert t["null twin (lw0)"].tolist() == ["no run"]
