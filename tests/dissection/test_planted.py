"""Planted neurons with a known concept are identified and described correctly."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection.concepts import concept_matrix, similarity, top_concepts
from speechneurons.dissection.describe import PHONE_ATTRIBUTES, ItemTable
from speechneurons.dissection.dissect import dissect_layer
from speechneurons.phones import PHONE_TO_TYPE, PHONES
from tests.helpers.dissection import settings

PLANTS = {0: ("phone_type", "vowel"), 1: ("gender", "F"), 2: ("pitch", "high"), 3: ("phone_type", "unvoiced_consonant")}
PHRASES = {0: "fires on vowels", 1: "spoken by female speakers", 2: "at high pitch", 3: "fires on unvoiced consonants"}


def fake_items(n=1500, seed=0) -> ItemTable:
    """Items with independent random attributes (pitch only for voiced phones)."""
    rng = np.random.default_rng(seed)
    phone = rng.choice(np.array(PHONES, dtype=object), n)
    ptype = np.array([PHONE_TO_TYPE[p] for p in phone], dtype=object)
    voiced = ptype != "unvoiced_consonant"
    bins = np.array(["low", "mid", "high"], dtype=object)
    t = pd.DataFrame(
        {
            "item_id": [f"u{i // 20}:{i % 20}" for i in range(n)],
            "phone": phone,
            "phone_type": ptype,
            "word": rng.choice(np.array(["A", "B", "C", "D", "E", "F", "G"], dtype=object), n),
            "word_position": rng.choice(np.array(["initial", "medial", "final", "single"], dtype=object), n),
            "prev_phone": rng.choice(np.array(PHONES, dtype=object), n),
            "next_phone": rng.choice(np.array(PHONES, dtype=object), n),
            "speaker": rng.choice(np.array(["s1", "s2", "s3", "s4", "s5", "s6"], dtype=object), n),
            "voicing": np.where(voiced, "voiced", "unvoiced").astype(object),
            "pitch": np.where(voiced, rng.choice(bins, n), None),
        }
    )
    t["gender"] = np.where(t["speaker"].isin(["s1", "s2", "s3"]), "F", "M")
    t["prev_phone_type"] = [PHONE_TO_TYPE[p] for p in t["prev_phone"]]
    t["next_phone_type"] = [PHONE_TO_TYPE[p] for p in t["next_phone"]]
    for attr in ("loudness", "brightness", "tilt", "duration"):
        t[attr] = rng.choice(bins, n)
    t["caption"] = t["phone"] + " " + t["speaker"]
    return ItemTable("phone", t, PHONE_ATTRIBUTES, {})


def planted(t: pd.DataFrame, n_neurons=12, seed=0) -> np.ndarray:
    acts = 0.01 * np.random.default_rng(seed).standard_normal((len(t), n_neurons))
    for j, (attr, value) in PLANTS.items():
        acts[:, j] += (t[attr] == value).to_numpy()
    return acts.astype(np.float32)


@pytest.fixture(scope="module")
def items():
    return fake_items()


@pytest.mark.parametrize("name", ["cos", "cos3", "wpmi", "soft_wpmi"])
def test_planted_concept_is_the_top_concept(items, name):
    # wpmi's prior p(c) averages over the layer's neurons, so the layer needs many (noise) neurons
    acts = planted(items.table, n_neurons=200)
    cm = concept_matrix(items.table, settings().concepts)
    top = top_concepts(similarity(name, acts, cm.matrix), 3)
    for j, (attr, value) in PLANTS.items():
        assert cm.names[top.index[j, 0]] == f"{attr}={value}", (name, j, [cm.names[c] for c in top.index[j]])


def test_planted_neurons_are_described(items):
    acts = planted(items.table)
    d = dissect_layer(acts, items, settings(similarity="cos3", splits=[], n_permutations=5), layer=1)
    for j, phrase in PHRASES.items():
        assert d.summary.interpretable[j]
        assert phrase in d.descriptions[j], (j, d.descriptions[j])
    top = d.summary.shared[d.summary.shared["side"] == "top"]
    for j, (attr, value) in PLANTS.items():
        row = top[(top["neuron"] == j) & (top["attribute"] == attr)]
        assert row["value"].tolist() == [value] and row["n_top"].tolist() == [5]
    # the chance level (item attributes permuted): with K' = K = 5 and none in the bottom, almost nothing is shared
    # (0.90 here with top and bottom items drawn from distinct utterances)
    assert d.null_uninterpretable.shape == (5,) and d.null_uninterpretable.mean() >= 0.85
    loose = dissect_layer(
        acts, items, settings(splits=[], n_permutations=5, min_shared=4, max_bottom_shared=1), layer=1
    )
    assert loose.null_uninterpretable.mean() < 0.9  # K' = 4 of 5 with 16 attributes: often shared by chance
