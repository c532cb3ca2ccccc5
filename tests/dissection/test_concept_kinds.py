"""Known answers of the acoustic-against-linguistic shares and the polysemanticity measures."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection.concept_kinds import (
    acoustic_minus_linguistic,
    attribute_class,
    concept_classes,
    paired_difference,
    polysemanticity,
    twin_depth_trend,
)


def neurons(layer, tops, interpretable=None):
    n = len(tops)
    interpretable = [True] * n if interpretable is None else interpretable
    return pd.DataFrame(
        {
            "layer": layer,
            "kind": "phone",
            "neuron": range(n),
            "interpretable": interpretable,
            "concepts": [f"{a}=x;phone=AA" for a in tops],
        }  # fmt: skip
    )


def test_attribute_classes():
    assert attribute_class("pitch") == "acoustic"
    assert attribute_class("phone_type") == "linguistic"
    assert attribute_class("gender") == "other"


def test_classes_use_top_concept_and_description():
    n = neurons(1, ["pitch", "phone", "gender"], [True, True, False])
    shared = pd.DataFrame(
        {
            "layer": 1,
            "kind": "phone",
            "neuron": [0, 0, 1, 2],
            "side": ["top", "bottom", "top", "top"],
            "attribute": ["loudness", "phone", "word", "pitch"],
        }  # fmt: skip
    )
    c = concept_classes(n, shared)
    assert c["neuron"].tolist() == [0, 1]  # the uninterpretable neuron is left out
    assert c["top_class"].tolist() == ["acoustic", "linguistic"]
    assert c["desc_acoustic"].tolist() == [True, False]  # the bottom side does not count
    assert c["desc_linguistic"].tolist() == [False, True]


def test_planted_acoustic_lean_holds_and_linguistic_lean_does_not():
    acoustic = concept_classes(neurons(1, ["pitch"] * 80 + ["phone"] * 20), None)
    t = acoustic_minus_linguistic(acoustic, "top_concept", 500, 0, 0.95)
    pooled = t[t["layer"] == -1].iloc[0]
    assert pooled["effect"] == pytest.approx(0.6)
    assert pooled["ci_low"] > 0
    linguistic = concept_classes(neurons(1, ["pitch"] * 20 + ["phone"] * 80), None)
    pooled = acoustic_minus_linguistic(linguistic, "top_concept", 500, 0, 0.95).iloc[-1]
    assert pooled["effect"] == pytest.approx(-0.6) and pooled["ci_high"] < 0


def test_bad_inputs():
    with pytest.raises(ValueError, match="lacks columns"):
        concept_classes(pd.DataFrame({"layer": [1]}), None)
    with pytest.raises(ValueError, match="basis"):
        acoustic_minus_linguistic(concept_classes(neurons(1, ["pitch"]), None), "nope", 10, 0, 0.95)
    with pytest.raises(ValueError, match="fraction"):
        polysemanticity(np.ones((2, 2)), 0)


def test_polysemanticity_counts_concepts_near_the_best():
    sim = np.array([[1.0, 0.9, 0.1], [1.0, 0.5, 0.5], [-0.1, -0.2, -0.3]])
    assert polysemanticity(sim, 0.8).tolist() == [2, 1, 0]
    assert polysemanticity(sim, 0.5).tolist() == [2, 3, 0]


def test_paired_difference_and_depth_trend():
    a, b = np.full(200, 3.0), np.full(200, 1.0)
    assert paired_difference(a, b, 100, 0, 0.95) == (2.0, 2.0, 2.0)
    rng = np.random.default_rng(0)
    layers = [1, 2, 3, 4]
    # the twin's interpretable share rises 10 points per layer, the SSL model's stays flat
    twin = [rng.random(500) < 0.3 + 0.1 * i for i in range(4)]
    ssl = [rng.random(500) < 0.4 for _ in range(4)]
    value, lo, hi = twin_depth_trend(layers, twin, ssl, 300, 0, 0.95)
    assert 5 < value < 15 and lo > 0
    value, lo, hi = twin_depth_trend(layers, ssl, ssl, 300, 0, 0.95)
    assert value == 0 and lo == 0 and hi == 0
