"""Concept-specific pruning: tagged sets and their matched control from the neuron tables, the
sampled utterances, the probe's logits, and the whole run on a tiny random model."""

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.dissection.pruning import (
    TABLE_COLUMNS,
    concept_group,
    concept_sets,
    family_concepts,
    probe_logits,
    run_pruning,
    sample_utterances,
)
from tests.helpers.config import default_settings
from tests.helpers.dissection import make_corpus, pruning_settings


def neuron_rows(layer, kind, concepts, rate=None):
    n = len(concepts)
    return pd.DataFrame({"layer": layer, "kind": kind, "neuron": np.arange(n), "concepts": concepts,
                         "activation_rate": np.linspace(0, 1, n) if rate is None else rate})  # fmt: skip


def test_concept_sets_tag_by_top_concepts_and_match_controls():
    filler = ["loudness=high;phone=AA"] * 20
    phone = ["phone_type=vowel;gender=F", "phone_type=vowel", "x;phone_type=unvoiced_consonant", *filler]
    utt = ["gender=F", "gender=M;pitch=low", *filler[:10]]
    neurons = pd.concat([neuron_rows(1, "phone", phone), neuron_rows(1, "utterance", utt),
                         neuron_rows(2, "phone", phone)])  # fmt: skip
    sets = {s["concept"]: s for s in concept_sets(neurons, pruning_settings(), 3)}
    assert list(sets) == family_concepts("phone_type", 3) + ["gender=F", "gender=M"] + family_concepts("pitch", 3)
    vowel = sets["phone_type=vowel"]
    assert vowel["kind"] == "phone" and vowel["tagged"] == {1: [0, 1], 2: [0, 1]}
    assert len(vowel["control"][1]) == 2 and not set(vowel["control"][1]) & {0, 1}  # family-tagged excluded
    assert set(vowel["control"][1]) <= {2, 3, 4, 5}  # nearest in rate (rates rise with the index)
    assert sets["phone_type=unvoiced_consonant"]["tagged"] == {}  # second concept: top_n = 1
    top2 = {s["concept"]: s for s in concept_sets(neurons, pruning_settings(top_n=2), 3)}
    assert top2["phone_type=unvoiced_consonant"]["tagged"] == {1: [2], 2: [2]}
    assert not set(top2["phone_type=vowel"]["control"][1]) & {0, 1, 2}  # neuron 2 now family-tagged
    assert sets["gender=F"]["kind"] == "utterance" and sets["gender=F"]["tagged"] == {1: [0]}
    assert sets["pitch=mid"]["tagged"] == {} and sets["pitch=mid"]["control"] == {}
    again = {s["concept"]: s for s in concept_sets(neurons, pruning_settings(), 3)}
    assert again["phone_type=vowel"]["control"] == vowel["control"]


def test_concept_sets_state_their_controls_balance():
    """The tagged vowel neurons 0, 1 have the lowest rates, so every control lies above them
    (KS 1, not balanced); with neurons 2, 3 at exactly their rates and the rest far away, the
    nearest-rate control is balanced (KS 0). A concept with nothing tagged has no balance."""
    phone = ["phone_type=vowel", "phone_type=vowel", *["loudness=high"] * 20]
    low = {s["concept"]: s for s in concept_sets(neuron_rows(1, "phone", phone), pruning_settings(), 3)}
    assert (low["phone_type=vowel"]["control_balanced"], low["phone_type=vowel"]["control_ks"]) == (0.0, 1.0)
    assert low["phone_type=voiced_consonant"]["control_balanced"] is None
    rate = np.r_[0.3, 0.5, 0.3, 0.5, np.full(18, 0.99)]
    even = concept_sets(neuron_rows(1, "phone", phone, rate), pruning_settings(match_neighbours=1), 3)
    vowel = next(s for s in even if s["concept"] == "phone_type=vowel")
    assert vowel["control"] == {1: [2, 3]}
    assert (vowel["control_balanced"], vowel["control_ks"]) == (1.0, 0.0)


def test_concept_controls_are_matched_on_the_rates_given_for_the_concept():
    """Overall, the tagged vowel neurons 0, 1 match their neighbours 2, 3; on vowel frames they
    are as busy as neurons 10, 11 only, which the in-group control picks. Concepts without
    given rates keep the overall match."""
    phone = ["phone_type=vowel", "phone_type=vowel", *["loudness=high"] * 20]
    neurons = neuron_rows(1, "phone", phone, np.r_[0.1, 0.2, 0.1, 0.2, np.full(18, 0.6)])
    on_vowels = np.full(22, 0.05)
    on_vowels[[0, 1, 10, 11]] = [0.8, 0.9, 0.8, 0.9]
    settings = pruning_settings(match_neighbours=1)
    overall = {s["concept"]: s for s in concept_sets(neurons, settings, 3)}
    assert overall["phone_type=vowel"]["control"] == {1: [2, 3]}
    assert overall["phone_type=vowel"]["matched_on"] == "overall rate"
    given = {s["concept"]: s for s in concept_sets(neurons, settings, 3, {"phone_type=vowel": {1: on_vowels}})}
    assert given["phone_type=vowel"]["control"] == {1: [10, 11]}
    assert given["phone_type=vowel"]["matched_on"] == "in_group rate"
    assert given["phone_type=vowel"]["control_balanced"] == 1.0
    assert given["gender=F"]["matched_on"] == "overall rate"


def test_concept_group_names_the_property_statistic_s_group():
    assert concept_group("phone_type=vowel", 3) == ("phone_type", "vowel")
    assert concept_group("gender=F", 3) == ("gender", "F")
    assert concept_group("pitch=high", 3) == ("pitch", "2") and concept_group("pitch=mid-low", 4) == ("pitch", "1")
    with pytest.raises(ValueError, match="no concept of the pruning families"):
        concept_group("loudness=high", 3)


def test_sample_utterances_caps_each_split_seeded():
    manifest = pd.DataFrame({"utt_id": [f"u{i}" for i in range(20)], "split": ["train"] * 15 + ["test"] * 5})
    s = pruning_settings(max_train_utterances=4, max_test_utterances=10)
    chosen = sample_utterances(manifest, s)
    assert (chosen["split"] == "train").sum() == 4 and (chosen["split"] == "test").sum() == 5
    assert chosen.equals(sample_utterances(manifest, s))
    with pytest.raises(ValueError, match="no test utterance"):
        sample_utterances(manifest[manifest["split"] == "train"], s)


@pytest.mark.parametrize("classifier", ["ridge", "logistic"])
def test_probe_logits_rank_the_true_class_first(classifier):
    from speechneurons.probing.probes import ProbeSettings

    rng = np.random.default_rng(0)
    y = rng.integers(0, 3, 300)
    x = np.eye(3)[y] @ rng.standard_normal((3, 8)) + 0.1 * rng.standard_normal((300, 8))
    probe = default_settings(ProbeSettings, "probes", seed=0, classifier=classifier)
    before, shifted = probe_logits(x[:200], y[:200], [x[200:], x[200:] + 5], 3, probe)
    assert before.shape == (100, 3) and (before.argmax(axis=1) == y[200:]).mean() > 0.95
    (two,) = probe_logits(x[:200], (y[:200] > 0).astype(int), [x[200:]], 2, probe)
    assert two.shape == (100, 2) and np.allclose(two[:, 0], -two[:, 1])
    with pytest.raises(ValueError, match="2 of its 3 classes"):
        probe_logits(x[:200], np.minimum(y[:200], 1), [x], 3, probe)


def test_run_pruning_on_a_tiny_model(tmp_path):
    from transformers import HubertModel

    from speechneurons.model.registry import load_model
    from speechneurons.probing.features import FrameSettings
    from speechneurons.probing.probes import ProbeSettings
    from tests.helpers.models import tiny_config

    c = make_corpus(tmp_path / "corpus")
    torch.manual_seed(0)
    HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64)).save_pretrained(tmp_path / "model")
    loaded = load_model(str(tmp_path / "model"), device="cpu")
    filler = ["loudness=high"] * 60
    phone = ["phone_type=vowel"] * 3 + ["phone_type=unvoiced_consonant"] + ["pitch=low"] * 2 + filler[:58]
    neurons = pd.concat([neuron_rows(layer, kind, phone) for layer in (1, 2) for kind in ("phone", "utterance")])
    neurons.loc[(neurons["kind"] == "utterance") & (neurons["neuron"] == 10), "concepts"] = "gender=M"
    s = pruning_settings(resamples=50)
    sets = concept_sets(neurons, s, 3)
    probe = default_settings(ProbeSettings, "probes", seed=0)
    frames = default_settings(FrameSettings, "probes", seed=0)
    table = run_pruning(loaded, c.manifest, c.frames, c.pitch_frames, sets, s, probe, frames, 3, progress=False)
    assert list(table.columns) == TABLE_COLUMNS
    order = table[(table["family"] == "phone_type") & (table["arm"] == "tagged")]["concept"].tolist()
    assert order == [*family_concepts("phone_type", 3), "mean of pruned"]
    t = table.set_index(["concept", "arm"])
    assert t.loc[("phone_type=voiced_consonant", "tagged"), "status"] == "not pruned: no tagged neuron"
    assert np.isnan(t.loc[("phone_type=voiced_consonant", "tagged"), "dA"])  # never 0
    assert ("phone_type=voiced_consonant", "control") not in t.index
    vowel = t.loc[("phone_type=vowel", "tagged")]
    assert vowel["n_tagged"] == 6 and vowel["tagged_per_layer"] == "1:3;2:3" and vowel["n_test_utts"] == 4
    pruned = table[table["status"] == "pruned"]
    assert (pruned["gap_lo"] <= pruned["gap"] + 1e-9).all() and (pruned["gap"] <= pruned["gap_hi"] + 1e-9).all()
    mean = t.loc[("mean of pruned", "difference")]
    assert len(mean) == 3  # one per family that pruned something
    assert table.loc[table["family"] == "gender", "n_test_items"].iloc[0] == 4  # one item per test utterance
    diff = t.loc[("phone_type=vowel", "difference")]
    tag, ctrl = t.loc[("phone_type=vowel", "tagged")], t.loc[("phone_type=vowel", "control")]
    assert diff["gap"] == pytest.approx(tag["gap"] - ctrl["gap"])
