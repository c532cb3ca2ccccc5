"""The positive controls through the DAG (docs/positive-controls.md), reduced: on the ci-tiny
corpus with a 3-layer tiny model, the planted model's property-neuron counts hold the claim
"pitch neurons are most numerous at the bottom and top layers" and its null twin's hold neither
that claim nor the gender one. (The planted gender neurons are there, but 14 speakers with 3
train utterances each leave the gender claim's chance range too wide: docs/positive-controls.md.)
The dissection's control: units planted at layer 2 on stated concepts are named by their top
concept above the unit-to-concept permutation null, and their null twin's are not."""

from __future__ import annotations

import pandas as pd
import pytest

from speechneurons.findings.claims import HOLDS
from speechneurons.findings.property_neurons import claim_extreme_layers
from speechneurons.io import read_table
from tests.workflow.test_smoke import make_workdir, snakemake

# One run for every planted model of the reduced controls: the base model, corpus and alignment
# are shared (two separate runs repeated them).
REDUCED = {
    "pretrain": {"num_layers": 3},
    "compare": {
        "models": [
            # overlap_units 0: the same groups at both planted layers. On ci-tiny's 14 speakers the
            # overlap units, which take layer 1's pitch-bin units' place, leave the pitch U shape
            # inside its chance range (+5.0, chance [-2.5, +7.0]); the overlap is controlled on
            # the default corpus (docs/positive-controls.md) and in tests/positive_controls.
            {"name": "planted-property", "source": "planted", "planted": {"signal": "property", "overlap_units": 0}},
            {"name": "planted-null", "source": "planted", "planted": {"signal": "null"}},
            {"name": "planted-concept", "source": "planted", "planted": {"signal": "concept", "gain": 1.0}},
            {"name": "planted-concept-null", "source": "planted", "planted": {"signal": "concept_null", "gain": 1.0}},
        ]
    },
    # ci-tiny's FFN has 128 units: tau_fraction 0.1 activates 13 per frame (the default 0.01
    # only 1, for which every planted group competes)
    "properties": {"random_weights_control": False, "tau_fraction": 0.1},
    "dissection": {"layers": [2], "random_weights_control": False, "n_permutations": 20},
}
CONCEPT_MODELS = ("planted-concept", "planted-concept-null")


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    work = make_workdir(tmp_path_factory.mktemp("planted"), REDUCED)
    targets = [f"results/ci-tiny/properties/{m}/final/summary.tsv" for m in ("planted-property", "planted-null")]
    files = ("neurons.tsv", "shared.tsv")
    targets += [f"results/ci-tiny/dissection/{m}/final/layer-2/{f}" for m in CONCEPT_MODELS for f in files]
    snakemake(work, *targets, "--cores", "2", "--configfile", "configs/ci-tiny.yaml", "override.yaml")
    return work


def _verdict(results, model: str, prop: str) -> str:
    base = results / "ci-tiny" / "properties" / model / "final"
    summary = read_table(base / "summary.tsv")
    reps = pd.concat(
        [read_table(base / f"layer-{layer}" / "replicates.tsv").assign(layer=layer) for layer in (1, 2, 3)]
    )
    return claim_extreme_layers(prop, summary, reps, None, 0.95).verdict


@pytest.mark.slow
def test_planted_pitch_neurons_hold_and_the_null_twin_does_not(planted_run):
    work = planted_run
    planted = (work / "results" / "ci-tiny" / "models" / "planted-property" / "planted" / "planted.json").read_text()
    assert '"signal": "property"' in planted
    assert _verdict(work / "results", "planted-property", "pitch") == HOLDS
    assert _verdict(work / "results", "planted-null", "pitch") != HOLDS
    assert _verdict(work / "results", "planted-null", "gender") != HOLDS


@pytest.mark.slow
def test_planted_concept_units_are_named_and_the_null_twin_s_are_not(planted_run):
    import json

    from speechneurons.findings.planted_concepts import planted_concept_findings

    work = planted_run
    verdicts = {}
    for m in CONCEPT_MODELS:
        doc = json.loads((work / "results" / "ci-tiny" / "models" / m / "planted" / "planted.json").read_text())
        assert list(doc["units"]) == ["2"] and len(doc["stated"]) == 3  # the middle layer, three concepts
        base = work / "results" / "ci-tiny" / "dissection" / m / "final" / "layer-2"
        rows = planted_concept_findings(doc, [read_table(base / "neurons.tsv")], [read_table(base / "shared.tsv")],
                                        100, 0, 0.95)  # fmt: skip
        verdicts[m] = [r.verdict for r in rows]
    assert verdicts["planted-concept"][0] == HOLDS  # named by the top concept
    assert HOLDS not in verdicts["planted-concept-null"]


#: the SAE control on a small planted dictionary (tests/positive_controls/test_sae_control.py's)
SAE_CONTROL = {
    "positive_controls": {
        "saes": {
            "enabled": True,
            "d": 32,
            "n_atoms": 32,
            "mean_active": 2.0,
            "noise": 0.02,
            "train_tokens": 8000,
            "heldout_tokens": 1200,
            "k": 2,
            "k_sweep": [1, 4],
            "expansion_factor": 2.0,
            "steps": 400,
        }
    },
    "saes": {"architectures": ["topk", "mutual_choice", "feature_choice"]},
}


@pytest.mark.slow
def test_sae_control_job_writes_both_twins_verdicts(tmp_path):
    work = make_workdir(tmp_path, SAE_CONTROL)
    snakemake(work, "results/positive-controls/saes.tsv", "--cores", "1", "--configfile", "override.yaml")
    verdicts = read_table(work / "results" / "positive-controls" / "saes.tsv")
    assert verdicts.groupby("twin").size().to_dict() == {"planted": 6, "null twin": 6}
    recovery = read_table(work / "results" / "positive-controls" / "saes_recovery.tsv").dropna(
        subset=["recovered_share"]
    )
    assert recovery.loc[recovery.twin == "planted", "recovered_share"].max() >= 0.8
    assert recovery.loc[recovery.twin == "null twin", "recovered_share"].max() <= 0.1
    assert (work / "results" / "positive-controls" / "saes.png").stat().st_size > 0
