"""Verdicts on the network-dissection claims from dissection tables with known answers.

summary.tsv is built by the stage's own ``summary_table`` from per-layer summary documents;
agreement.tsv and pruning.tsv have the columns their writers give them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection.pruning import TABLE_COLUMNS
from speechneurons.dissection.tables import summary_table
from speechneurons.findings import claims as cl
from speechneurons.findings.dissection import (
    claim_agreement,
    claim_concept_pruning,
    claim_shared_concepts,
    dissection_findings,
)

AGREEMENT_COLUMNS = ["layer", "kind", "split", "n_items", "property", "measure", "n", "observed", "null_mean",
                     "null_sd", "null_lo", "null_hi", "p"]  # fmt: skip


def _summary(observed: dict[int, float], null_centre: float = 0.9, null_width: float = 0.02, kind="phone"):
    """summary.tsv of layers ``observed`` (layer -> uninterpretable share); the null's 20 values
    spread evenly over null_centre +- null_width."""
    null = list(np.linspace(null_centre - null_width, null_centre + null_width, 20))
    docs = [
        {"layer": layer, "kinds": {kind: {"n_items": 500, "n_neurons": 100, "n_concepts": 30,
                                          "uninterpretable_share": share, "uninterpretable_null": null,
                                          "bottom_tie_share": 0.1, "bottom_tied_median": 3}}}
        for layer, share in observed.items()
    ]  # fmt: skip
    return summary_table(docs)


def test_shared_concepts_holds_when_every_layer_is_below_chance():
    f = claim_shared_concepts(_summary({1: 0.2, 2: 0.5, 3: 0.3}), "phone")
    # the layer nearest chance is layer 2: 90 - 50 points, chance range of the effect about +-2
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(40.0) and "shown: layer 2" in f.why
    assert f.chance_low == pytest.approx(-1.9, abs=0.1) and f.chance_high == pytest.approx(1.9, abs=0.1)
    assert np.isnan(f.ci_low) and "layers 1-3" in f.why


def test_shared_concepts_fails_or_is_not_measurable_in_one_layer():
    f = claim_shared_concepts(_summary({1: 0.2, 2: 0.97, 3: 0.89}), "phone")
    assert f.verdict == cl.FAILS and "shown: layer 2" in f.why  # more uninterpretable than chance
    f = claim_shared_concepts(_summary({1: 0.2, 2: 0.5, 3: 0.9}), "phone")
    assert f.verdict == cl.UNMEASURED and "shown: layer 3" in f.why and "within" in f.why


def test_shared_concepts_needs_the_kind_and_a_null():
    assert "no utterance items" in claim_shared_concepts(_summary({1: 0.2}), "utterance").why
    no_null = summary_table(
        [{"layer": 1, "kinds": {"phone": {"n_items": 5, "n_neurons": 10, "n_concepts": 3, "uninterpretable_share": 0.2,
                                          "uninterpretable_null": [], "bottom_tie_share": 0.0,
                                          "bottom_tied_median": 1}}}]
    )  # fmt: skip
    f = claim_shared_concepts(no_null, "phone")
    assert f.verdict == cl.UNMEASURED and "n_permutations is 0" in f.why
    assert claim_shared_concepts(None, "phone").verdict == cl.UNMEASURED


def _agreement(prop, kind, observed, null_mean, null_lo, null_hi, n=(10, 30), split="held_out") -> pd.DataFrame:
    rows = []
    for i, layer in enumerate((1, 2)):
        for measure in ("within", "top1"):
            rows.append(dict(layer=layer, kind=kind, split=split, n_items=100, property=prop, measure=measure, n=n[i],
                             observed=observed[i], null_mean=null_mean[i], null_sd=0.1, null_lo=null_lo[i],
                             null_hi=null_hi[i], p=0.05))  # fmt: skip
    return pd.DataFrame(rows, columns=AGREEMENT_COLUMNS)


def test_agreement_is_pooled_over_layers_by_labelled_neurons():
    a = _agreement("phone_type", "phone", (0.8, 0.6), (0.33, 0.33), (0.1, 0.2), (0.6, 0.5))
    f = claim_agreement(a, "phone_type")
    # pooled with weights 1/4 and 3/4: observed 0.65 against 0.33
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(32.0)
    assert (f.chance_low, f.chance_high) == pytest.approx((-15.5, 19.5)) and "40 labelled neurons" in f.why
    within = claim_agreement(_agreement("phone_type", "phone", (0.5, 0.4), (0.33,) * 2, (0.1,) * 2, (0.6,) * 2),
                             "phone_type")  # fmt: skip
    assert within.verdict == cl.UNMEASURED
    below = claim_agreement(_agreement("phone_type", "phone", (0.0, 0.0), (0.5,) * 2, (0.3,) * 2, (0.7,) * 2),
                            "phone_type")  # fmt: skip
    assert below.verdict == cl.FAILS


def test_agreement_reads_gender_on_utterance_items_and_needs_held_out_items():
    a = pd.concat(
        [
            _agreement("gender", "utterance", (0.9, 0.9), (0.5,) * 2, (0.3,) * 2, (0.7,) * 2),
            _agreement("gender", "phone", (0.5, 0.5), (0.5,) * 2, (0.3,) * 2, (0.7,) * 2),
        ]
    )
    f = claim_agreement(a, "gender")
    assert f.verdict == cl.HOLDS and "utterance items" in f.why
    phone_only = a[a["kind"] == "phone"]
    assert claim_agreement(phone_only, "gender").verdict == cl.UNMEASURED  # falls back to phone items
    selected = _agreement("gender", "utterance", (0.9, 0.9), (0.5,) * 2, (0.3,) * 2, (0.7,) * 2, split="selected")
    assert "no held-out items" in claim_agreement(selected, "gender").why
    nobody = _agreement("pitch", "phone", (np.nan,) * 2, (np.nan,) * 2, (np.nan,) * 2, (np.nan,) * 2, n=(0, 0))
    assert "no neuron is in exactly one pitch group" in claim_agreement(nobody, "pitch").why
    assert claim_agreement(None, "pitch").verdict == cl.UNMEASURED


def _pruning(diff: float, tagged: float, width: float = 1.0, family="phone_type", skipped=("unvoiced_consonant",)):
    """pruning.tsv of one family: two pruned concepts, ``skipped`` not pruned; the 'mean of
    pruned' gaps are ``tagged`` (tagged arm) and ``diff`` (tagged minus control)."""
    common = dict(family=family, n_test_items=400, n_test_utts=8, probe_accuracy=0.8, majority_rate=0.45)
    gaps = {"tagged": tagged, "control": tagged - diff, "difference": diff}
    rows = []
    for arm, g in gaps.items():
        for concept, n in (("phone_type=vowel", 5), ("phone_type=voiced_consonant", 3), ("mean of pruned", 8)):
            rows.append(dict(common, concept=concept, arm=arm, status="pruned", n_tagged=n, tagged_per_layer="1:2",
                             dA=g, dA_lo=g - width, dA_hi=g + width, dR=0.0, dR_lo=-0.1, dR_hi=0.1, gap=g,
                             gap_lo=g - width, gap_hi=g + width))  # fmt: skip
    for concept in skipped:
        rows.append(dict(common, concept=f"phone_type={concept}", arm="tagged", status="not pruned: no tagged neuron",
                         n_tagged=0, tagged_per_layer=""))  # fmt: skip
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def test_concept_pruning_against_the_matched_control():
    f = claim_concept_pruning(_pruning(diff=3.0, tagged=4.0), "phone_type")
    assert f.verdict == cl.HOLDS and f.value == 3.0 and (f.ci_low, f.ci_high) == (2.0, 4.0)
    assert "matched control +1.00" in f.why and "not pruned (no tagged neuron): phone_type=unvoiced_consonant" in f.why
    assert claim_concept_pruning(_pruning(diff=0.5, tagged=4.0), "phone_type").verdict == cl.UNMEASURED
    assert claim_concept_pruning(_pruning(diff=-3.0, tagged=1.0), "phone_type").verdict == cl.FAILS
    # beyond the control, but the tagged pruning itself hurts the concept no more than the rest
    weak = claim_concept_pruning(_pruning(diff=3.0, tagged=0.5), "phone_type")
    assert weak.verdict == cl.UNMEASURED and "own dA - dR" in weak.why
    # the controls' balance is stated, with a warning below one half; the verdict is unchanged
    assert "balance criterion" not in f.why  # no balance column: nothing said
    unbalanced = _pruning(diff=3.0, tagged=4.0).assign(control_balanced=0.25)
    g = claim_concept_pruning(unbalanced, "phone_type")
    assert g.verdict == cl.HOLDS and g.value == f.value
    assert "25% of the controls' layers within the balance criterion (pruning.tsv)" in g.why
    assert "weaker than it reads" in g.why
    fine = claim_concept_pruning(_pruning(diff=3.0, tagged=4.0).assign(control_balanced=1.0), "phone_type")
    assert "100% of the controls' layers" in fine.why and "weaker" not in fine.why
    in_group = claim_concept_pruning(_pruning(diff=3.0, tagged=4.0).assign(matched_on="in_group rate"), "phone_type")
    assert "controls matched on the activation rate on the concept's own frames" in in_group.why
    assert "controls matched on" not in f.why  # an older table without the column


def test_concept_pruning_off_unlisted_or_with_nothing_tagged():
    assert "pruning is off" in claim_concept_pruning(None, "gender").why
    assert "not in dissection.pruning.families" in claim_concept_pruning(_pruning(3, 4), "gender", ["phone_type"]).why
    assert "no gender rows" in claim_concept_pruning(_pruning(3, 4), "gender").why
    nothing = _pruning(3, 4)
    nothing = nothing[nothing["status"] != "pruned"]
    assert "has a tagged neuron" in claim_concept_pruning(nothing, "phone_type").why


def test_every_dissection_claim_has_a_row():
    out = dissection_findings(_summary({1: 0.2}), None, None, kinds=["phone"])
    assert len(out) == 1 + 3 + 3
    assert out[0].verdict == cl.HOLDS and all(f.verdict == cl.UNMEASURED for f in out[1:])


def test_the_random_weights_dissection_stands_beside_the_trained_one():
    trained = _summary({1: 0.2, 2: 0.5})
    random = _summary({1: 0.6, 2: 0.88})  # the untrained network: layer 2 at chance
    f = claim_shared_concepts(trained, "phone", random)
    # trained effects 70 and 40 points, random 30 and 2: trained minus random 40 and 38
    assert f.verdict == cl.HOLDS and "random weights (same dissection, untrained network)" in f.why
    assert "layer 1: 60.0 % against 90.0 %, trained minus random +40.0 points" in f.why
    assert "layer 2: 88.0 % against 90.0 %, trained minus random +38.0 points" in f.why
    assert claim_shared_concepts(trained, "phone", random).verdict == claim_shared_concepts(trained, "phone").verdict
    assert "random weights" not in claim_shared_concepts(trained, "phone").why

    a = _agreement("phone_type", "phone", (0.8, 0.6), (0.33, 0.33), (0.1, 0.2), (0.6, 0.5))
    r = _agreement("phone_type", "phone", (0.5, 0.5), (0.33, 0.33), (0.1, 0.2), (0.6, 0.5))
    g = claim_agreement(a, "phone_type", r)
    # trained 65.0 % against 33 %: +32 points; random 50 % against 33 %: +17; the difference +15
    assert g.verdict == cl.HOLDS and g.value == pytest.approx(32.0)
    assert "50.0 % agree against 33.0 % with shuffled labels (40 labelled neurons), effect +17.0 points" in g.why
    assert "trained minus random +15.0 points" in g.why
    nobody = _agreement("phone_type", "phone", (np.nan,) * 2, (np.nan,) * 2, (np.nan,) * 2, (np.nan,) * 2, n=(0, 0))
    assert (
        "random weights (same dissection, untrained network): no phone type neuron"
        in claim_agreement(a, "phone_type", nobody).why
    )
    out = dissection_findings(trained, a, None, kinds=["phone"], random_summary=random, random_agreement_table=r)
    assert "random weights" in out[0].why and "random weights" in out[1].why
