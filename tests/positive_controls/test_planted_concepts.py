"""The dissection's positive control: planted concept units (speechneurons.model.plant_concepts)
and the findings rows that check they are named by their stated concept
(speechneurons.findings.planted_concepts)."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.findings.claims import HOLDS, UNMEASURED
from speechneurons.findings.planted_concepts import (
    assignment_null,
    named_share,
    planted_concept_findings,
    planted_units,
    unit_names,
)
from speechneurons.model.plant_concepts import (
    ConceptPlantSettings,
    concept_groups,
    concept_layers,
    concept_mask,
    parse_concept,
    plant_concepts_,
)

CONCEPTS = ["phone=AH", "pitch=high", "word_position=initial"]


def _items(n=60, seed=0):
    rng = np.random.default_rng(seed)
    speakers = np.array([f"s{i}" for i in range(6)])[np.arange(n) % 6]
    return pd.DataFrame(
        {
            "utt_id": [f"{s}-0" for s in speakers],
            "speaker": speakers,
            "gender": np.where(np.isin(speakers, ["s0", "s1", "s2"]), "F", "M"),
            "phone": rng.choice(["AH", "T", "S"], n),
            "pitch": np.where(np.arange(n) % 4 == 0, None, rng.choice(["low", "mid", "high"], n)),
            "word_position": rng.choice(["initial", "medial", "final"], n),
        }
    )


def test_concept_layers_default_to_the_middle():
    assert concept_layers([], 6) == [3]
    assert concept_layers([], 3) == [2]
    assert concept_layers([], 1) == [1]
    assert concept_layers([5, 2], 6) == [2, 5]
    with pytest.raises(ValueError, match="do not exist"):
        concept_layers([7], 6)


def test_concept_names_and_masks():
    items = _items()
    assert parse_concept("word_position=initial") == ("word_position", "initial")
    with pytest.raises(ValueError, match="attribute=value"):
        parse_concept("AH")
    np.testing.assert_array_equal(concept_mask(items, "phone=AH"), items["phone"].to_numpy() == "AH")
    assert not concept_mask(items, "pitch=high")[items["pitch"].isna().to_numpy()].any()  # unvoiced: no pitch
    with pytest.raises(ValueError, match="no attribute 'loudness'"):
        concept_mask(items, "loudness=low")
    with pytest.raises(ValueError, match="no item has phone=ZH"):
        concept_mask(items, "phone=ZH")


def test_concept_groups_and_their_null_twin():
    items = _items()
    masks, stated = concept_groups(items, CONCEPTS, "concept", seed=0)
    assert list(masks) == CONCEPTS and stated == {c: c for c in CONCEPTS}
    masks, stated = concept_groups(items, CONCEPTS, "concept_null", seed=0)
    assert list(stated.values()) == CONCEPTS and len(masks) == 3
    codes = np.select(list(masks.values()), range(3), -1)
    assert (codes >= 0).all()  # every frame in exactly one group
    for _s, rows in items.groupby("speaker"):  # keyed to speakers: one group per speaker
        assert len(set(codes[rows.index])) == 1
    for m in masks.values():  # two speakers per group, one of each gender: no group is a gender
        assert set(items.loc[m, "gender"]) == {"F", "M"}
    with pytest.raises(ValueError, match="signal"):
        concept_groups(items, CONCEPTS, "property", seed=0)


def test_planted_concept_units_fire_on_their_concept(tmp_path):
    from speechneurons.model.ffn import capture_ffn
    from speechneurons.model.forward import encode, front_end, pad
    from speechneurons.model.registry import load_model, model_class
    from tests.helpers.models import tiny_config
    from tests.positive_controls.test_plant import _corpus

    torch.manual_seed(0)
    model_class("hubert")(tiny_config("hubert", layers=3, ffn=64)).save_pretrained(tmp_path / "m")
    waves, index = _corpus()
    items = index.assign(pitch=np.where(index["gender"] == "F", "high", "low"), word_position="medial")
    high = (items["pitch"] == "high").to_numpy()
    outcomes = {}
    for signal in ("concept", "concept_null"):
        loaded = load_model(str(tmp_path / "m"), device="cpu")
        settings = ConceptPlantSettings(signal, 2, (), 30.0, 0.05, 0, ("pitch=high", "pitch=low"))
        planted, stated = plant_concepts_(loaded, waves, items, settings, seed=0)
        assert list(planted) == [2]  # the middle layer of 3
        assert list(stated.values()) == ["pitch=high", "pitch=low"]
        units = planted[2][next(iter(stated))]  # the units stated as pitch=high
        rows = []
        with torch.inference_mode(), capture_ffn(loaded.model, [2]) as h:
            for utt, r in items.groupby("utt_id", sort=False):
                encode(loaded, pad([0], [front_end(loaded, waves[utt])]))
                rows.append(h[2][0, torch.as_tensor(r["frame"].to_numpy().copy())].numpy())
        acts = np.concatenate(rows)[:, units]
        outcomes[signal] = (units, acts[high].mean() - acts[~high].mean())
    assert outcomes["concept"][0] == outcomes["concept_null"][0]  # the twin replaces the same units
    assert outcomes["concept"][1] > 1.0  # the planted units fire on high-pitch frames
    # the twin's units fire on a speaker pair (one F, one M): not on high pitch
    assert abs(outcomes["concept_null"][1]) < outcomes["concept"][1] / 2


# --------------------------------------------------------------------------- the findings rows

DOC = {
    "units": {"3": {"phone=AH": [1, 2], "pitch=high": [3, 4], "word_position=initial": [5, 6]}},
    "stated": {c: c for c in CONCEPTS},
}


def _tables(tops: dict[int, str], described: dict[int, list[str]], layer=3):
    neurons = pd.DataFrame(
        [{"layer": layer, "kind": k, "neuron": j, "concepts": f"{tops.get(j, 'gender=F')};voicing=voiced",
          "description": "d"} for k in ("phone", "utterance") for j in range(8)]
    )  # fmt: skip
    shared = pd.DataFrame(
        [{"layer": layer, "kind": "phone", "neuron": j, "side": "top", "attribute": v.split("=")[0],
          "value": v.split("=")[1], "n_top": 5, "n_bottom": 0} for j, vs in described.items() for v in vs],
        columns=["layer", "kind", "neuron", "side", "attribute", "value", "n_top", "n_bottom"],
    )  # fmt: skip
    return neurons, shared


def test_planted_units_from_planted_json():
    units = planted_units(DOC)
    assert units["neuron"].tolist() == [1, 2, 3, 4, 5, 6] and units["layer"].tolist() == [3] * 6
    assert units["stated"].tolist() == ["phone=AH"] * 2 + ["pitch=high"] * 2 + ["word_position=initial"] * 2
    assert planted_units({"units": {"1": {"gender-F": [0]}}}).empty  # a property model states no concept


def test_named_share_and_its_assignment_null():
    stated = ["a", "a", "b", "b"]
    names = [{"a"}, {"a"}, {"b"}, {"b"}]
    assert named_share(stated, names) == 1.0
    null = assignment_null(stated, names, 2000, seed=0)
    # a random assignment of a, a, b, b: the two a units get 2, 1 or 0 a's with probabilities 1/6, 4/6, 1/6
    assert abs(null.mean() - 0.5) < 0.02
    assert set(np.round(null, 6)) == {0.0, 0.5, 1.0}
    np.testing.assert_array_equal(null, assignment_null(stated, names, 2000, seed=0))  # seeded


def test_every_unit_named_holds_and_unnamed_units_do_not():
    tops = {1: "phone=AH", 2: "phone=AH", 3: "pitch=high", 4: "pitch=high", 5: "word_position=initial",
            6: "word_position=initial"}  # fmt: skip
    described = {1: ["phone=AH"], 3: ["pitch=high", "gender=F"], 5: ["loudness=low"]}
    rows = planted_concept_findings(DOC, *([t] for t in _tables(tops, described)), 200, 0, 0.95)
    top, description = rows
    assert top.verdict == HOLDS and "6 of 6" in top.why
    assert top.value == pytest.approx(100 * (1 - 1 / 3), abs=8)  # chance: a third of the units
    assert "2 of 6" in description.why and "phone=AH 1/2" in description.why
    # the null twin: the same units, named by something else (gender)
    twin = planted_concept_findings(DOC, *([t] for t in _tables({}, {})), 200, 0, 0.95)
    assert [r.verdict for r in twin] == [UNMEASURED, UNMEASURED]
    assert "0 of 6" in twin[0].why and "gender=F (6)" in twin[0].why


def test_unit_names_reads_phone_items_and_undissected_layers_are_not_measurable():
    neurons, shared = _tables({1: "phone=AH"}, {1: ["phone=AH"]})
    t = unit_names(planted_units(DOC), neurons, shared)
    assert t.loc[t["neuron"] == 1, ["named_top", "named_description"]].values.tolist() == [[True, True]]
    assert t["dissected"].all()
    neurons, shared = _tables({}, {}, layer=2)
    rows = planted_concept_findings(DOC, [neurons], [shared], 100, 0, 0.95)
    assert [r.verdict for r in rows] == [UNMEASURED] * 2 and "[3] were not dissected" in rows[0].why
    assert planted_concept_findings(None, [], [], 100, 0, 0.95) == []  # no planted model: no row


def test_findings_job_adds_the_rows_only_for_a_planted_concept_model(tmp_path):
    import json

    from speechneurons.findings.jobs import planted_concept_rows

    neurons, shared = _tables(dict(zip(range(1, 7), np.repeat(CONCEPTS, 2))), {})
    neurons.to_csv(tmp_path / "n.tsv", sep="\t", index=False)
    shared.to_csv(tmp_path / "s.tsv", sep="\t", index=False)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "planted.json").write_text(json.dumps(DOC))
    p = SimpleNamespace(n_permutations=100, seed=0, level=0.95)
    inp = SimpleNamespace(planted_model=str(tmp_path / "m"), and_neurons=[str(tmp_path / "n.tsv")],
                          and_shared=[str(tmp_path / "s.tsv")])  # fmt: skip
    rows = planted_concept_rows(inp, p)
    assert [r.verdict for r in rows][0] == HOLDS
    assert planted_concept_rows(SimpleNamespace(planted_model=[], and_neurons=[], and_shared=[]), p) == []


def test_control_table_lists_the_controls_own_claims_after_the_models():
    from speechneurons.findings.positive_controls import ABSENT, OWN_CLAIM, control_table

    own = pd.DataFrame({"study": ["S"], "claim": ["a"], "verdict": ["x"]})
    concept = pd.DataFrame({"study": ["S", "S"], "claim": ["a", "named"], "verdict": ["y", "holds"]})
    twin = pd.DataFrame({"study": ["S", "S"], "claim": ["a", "named"], "verdict": ["z", "not measurable here"]})
    runs = [
        {"name": "c", "signal": "concept", "findings": "-"},
        {"name": "cn", "signal": "concept_null", "findings": "-"},
        {"name": "n", "signal": "null", "findings": "-"},
    ]
    t = control_table(own, runs, {"c": concept, "cn": twin}, None)
    assert t["claim"].tolist() == ["a", "named"]
    assert t["this model"].tolist() == ["x", OWN_CLAIM]
    assert t["positive control (c)"].tolist() == ["y", "holds"]
    assert t["null twin (cn)"].tolist() == ["z", "not measurable here"]
    assert t["null twin (n)"].tolist() == [ABSENT] * 2


def test_concept_settings_are_keys_of_the_planted_schema():
    import dataclasses
    from pathlib import Path

    import yaml

    from speechneurons.config import settings_from

    schema = yaml.safe_load((Path(__file__).parents[2] / "schemas" / "planted.schema.yaml").read_text())
    keys = schema["properties"]
    assert {f.name for f in dataclasses.fields(ConceptPlantSettings)} <= set(keys)
    assert set(keys["signal"]["enum"]) >= {"concept", "concept_null"}
    s = settings_from(ConceptPlantSettings, {k: v["default"] for k, v in keys.items()})
    assert s.concepts == ("phone=S", "pitch=high", "word_position=initial")


def test_control_table_says_when_a_control_scored_sid_on_single_frames():
    """configs/positive-controls.yaml scores SID on single frames; a default run's page reading
    that control says so beside its verdict, and only where the two measures differ."""
    from speechneurons.findings.positive_controls import control_table

    measures = ["protect minus norm, SID accuracy (%)", "protect minus norm, SID accuracy on single frames (%)"]
    own = pd.DataFrame({"study": ["S", "S"], "claim": ["sid", "u"], "verdict": ["x", "x"], "measure": measures[:1] * 2})
    planted = pd.DataFrame({"study": ["S", "S"], "claim": ["sid", "u"], "verdict": ["holds", "holds"],
                            "measure": [measures[1], measures[0]]})  # fmt: skip
    t = control_table(own, [{"name": "p", "signal": "property", "findings": "-"}], {"p": planted}, None)
    assert t["positive control (p)"].tolist() == ["holds (SID on single frames)", "holds"]
