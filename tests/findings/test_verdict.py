"""The one symmetric verdict rule (speechneurons.findings.verdict), with known answers."""

import math

import pandas as pd

from speechneurons.findings import property_neurons as fp
from speechneurons.findings.claims import verdict_positive
from speechneurons.findings.verdict import (
    CANNOT_TEST,
    FAILS,
    HOLDS,
    UNMEASURED,
    at_chance_everywhere,
    symmetric_verdict,
)
from speechneurons.stats import centred_interval


def test_outside_chance_on_either_side_is_needed_for_both_verdicts():
    assert symmetric_verdict(5.0, 2.0, 8.0, -1.0, 3.0)[0] == HOLDS
    assert symmetric_verdict(-5.0, -8.0, -2.0, -3.0, 1.0)[0] == FAILS
    # inside the chance range, on either side of 0: not measurable
    up = symmetric_verdict(2.0, 1.0, 3.0, -1.0, 2.5)
    down = symmetric_verdict(-1.25, -1.44, -0.75, -2.0, 1.0)  # pitch "ends minus middle" of the default run
    assert up[0] == UNMEASURED and "within its chance range" in up[1]
    assert down[0] == UNMEASURED and "within its chance range" in down[1]
    assert symmetric_verdict(1.0, -1.0, 3.0, -0.5, 0.5) == (UNMEASURED, "the interval includes 0")


def test_a_count_whose_resamples_lie_beyond_it_reads_its_centred_interval():
    # the utterance-keyed null twin's pitch "ends minus middle": counts 2, 1, 0, 0, 2, 1 give
    # +0.75, and its speaker resamples [+1.78, +17.16] all lie above it (a resampling that
    # inflates a count); read on the percentile interval it held, on the centred one it does not
    lo, hi = centred_interval([1.78] * 3 + [17.16] * 3, 0.75, 0.95)
    assert (round(lo, 2), round(hi, 2)) == (-15.66, 17.16)
    assert symmetric_verdict(0.75, 1.78, 17.16, -1.75, 0.0)[0] == HOLDS
    assert symmetric_verdict(0.75, lo, hi, -1.75, 0.0) == (UNMEASURED, "the interval includes 0")
    # a simulated run with 12 planted pitch units at the first and last of 3 layers, all found
    # (counts 12, 0, 12: +12), whose speaker resamples find 13-16 (units pass the selection more
    # often on repeated frames): the centred interval keeps the effect inside, and it holds
    lo, hi = centred_interval([13.1] * 3 + [15.8] * 3, 12.0, 0.95)
    assert (round(lo, 1), round(hi, 1)) == (8.2, 15.8)
    assert symmetric_verdict(12.0, lo, hi, -1.0, 2.0)[0] == HOLDS
    # a single unit found at the last layer of a null run and in no resample: +0.5 against
    # resamples that are all 0 is not measurable
    assert symmetric_verdict(0.5, *centred_interval([0.0] * 9, 0.5, 0.95), 0.0, 0.0)[0] == UNMEASURED


def test_an_effect_and_an_interval_on_opposite_sides_of_0_show_no_sign():
    v, why = symmetric_verdict(0.75, -15.66, -0.28, -1.75, 0.0)
    assert v == UNMEASURED and "+0.75 and its interval [-15.66, -0.28] lie on opposite sides of 0" in why
    assert symmetric_verdict(-0.75, 1.0, 17.0, -0.5, 1.0)[0] == UNMEASURED  # the mirror image
    assert symmetric_verdict(0.0, 1.0, 2.0)[0] == UNMEASURED  # an effect of 0 shows no sign either
    # an effect at its interval's edge, or beyond it away from 0, still shows its sign
    assert symmetric_verdict(2.0, 2.0, 8.0, -1.0, 1.0)[0] == HOLDS
    assert symmetric_verdict(25.0, 16.31, 23.94, 4.0, 8.75)[0] == HOLDS
    assert symmetric_verdict(-25.0, -23.94, -16.31, -8.75, -4.0)[0] == FAILS


def test_the_design_cannot_test_and_missing_numbers_are_not_measurable():
    v, why = symmetric_verdict(5.0, 2.0, 8.0, -1.0, 3.0, cannot_test="the probe is at ceiling")
    assert v == UNMEASURED and why.startswith(CANNOT_TEST) and "ceiling" in why
    assert symmetric_verdict(math.nan, 1.0, 2.0)[0] == UNMEASURED
    # no chance range at all: the interval alone decides, in both directions
    assert symmetric_verdict(1.0, 0.5, 1.5)[0] == HOLDS and symmetric_verdict(-1.0, -1.5, -0.5)[0] == FAILS
    assert "no chance range" in symmetric_verdict(1.0, 0.5, 1.5, chance_expected=True)[1]


def test_verdict_positive_is_the_same_rule():
    assert verdict_positive(-1.25, -1.44, -0.75, 1.0, -2.0)[0] == UNMEASURED
    assert verdict_positive(-1.25, -1.44, -0.75)[0] == FAILS


def test_counts_at_chance_in_every_layer_make_the_layer_claim_untestable():
    assert at_chance_everywhere([0, 1, 2], [1, 1, 2]) and not at_chance_everywhere([0, 3], [1, 2])
    layers = [1, 2, 3, 4, 5, 6]
    counts = [0, 1, 0, 2, 2, 0]
    summary = pd.DataFrame({"layer": layers, "n_pitch": counts, "chance_high_n_pitch": [2.0] * 6})
    rows = []
    for seed in range(20):  # null: the same counts give the same effect
        rows += [
            {"kind": "null", "property": "pitch", "seed": seed, "layer": l, "n_pitch": c}
            for l, c in zip(layers, counts)
        ]
        rows += [
            {"kind": "bootstrap_speaker", "seed": seed, "layer": l, "n_pitch": c + (seed % 2) * (l in (2, 3, 4, 5))}
            for l, c in zip(layers, counts)
        ]
    f = fp.claim_extreme_layers("pitch", summary, pd.DataFrame(rows), None, 0.95)
    assert f.verdict == UNMEASURED and CANNOT_TEST in f.why and "no layer's pitch-neuron count" in f.why
    summary["chance_high_n_pitch"] = 0.5
    f = fp.claim_extreme_layers("pitch", summary, pd.DataFrame(rows), None, 0.95)
    assert CANNOT_TEST not in f.why


def test_the_page_tables_every_count_beside_its_controls():
    from speechneurons.findings.counts import count_controls
    from speechneurons.findings.page import render

    summary = pd.DataFrame(
        {
            "layer": [2, 1],
            "n_gender": [3, 1],
            "chance_low_n_gender": [0.0, 0.0],
            "chance_high_n_gender": [4.0, 2.0],
            "p_n_gender": [0.2, 0.5],
            "random_n_gender": [2, 2],
            "random_chance_high_n_gender": [3.0, 3.0],
            "trained_minus_random_n_gender": [1, -1],
        }
    )
    t = count_controls(summary)
    assert t["layer"].tolist() == [1, 2] and t["property"].unique().tolist() == ["gender"]
    assert t.iloc[1].to_dict() == {
        "property": "gender",
        "layer": 2,
        "count": "3",
        "chance range": "0.0–4.0",
        "p": "0.200",
        "random weights": "2",
        "random: chance up to": "3.0",
        "trained − random": "1",
    }
    findings = pd.DataFrame(
        [
            dict(
                study="s",
                claim="c",
                paper="p",
                measure="m",
                value=1.0,
                ci_low=0.5,
                ci_high=1.5,
                chance_low=0.0,
                chance_high=0.2,
                verdict=HOLDS,
                why="w",
                source="f",
            )
        ]  # fmt: skip
    )
    page = render(findings, "t", [], 0.95, [("Property-neuron counts and their controls", "note", t)])
    assert "Property-neuron counts and their controls" in page and "0.0–4.0" in page


def _controls(effect, p, p_below=1.0, comparison="prune 0.75", task="phone", n=20):
    return pd.DataFrame([dict(comparison=comparison, kind="pruning", task=task, layer=4, effect=effect, n_controls=n,
                              control_low=-1.0, control_high=1.0, control_p=p, control_p_below=p_below)])  # fmt: skip


def test_a_holding_effect_inside_its_control_distribution_is_not_measurable():
    from tests.findings.test_findings import _gender_matrix, _pruning

    prune = _pruning(protect=-3.0, random=4.0, control=0.0)
    beyond = fp.claim_protect_beats_norm("phone", prune, _controls(3.0, 1 / 21), 0.95)
    assert beyond.verdict == HOLDS and "rank p 0.048" in beyond.why
    inside = fp.claim_protect_beats_norm("phone", prune, _controls(0.5, 0.4), 0.95)
    assert inside.verdict == UNMEASURED and "within its control distribution" in inside.why
    # the same rule in the opposite direction: 'does not hold' needs the effect below the controls
    worse = _pruning(protect=3.0, random=4.0, control=0.0)
    assert fp.claim_protect_beats_norm("phone", worse, _controls(-3.0, 1.0, 1 / 21), 0.95).verdict == FAILS
    assert fp.claim_protect_beats_norm("phone", worse, _controls(-0.5, 0.6, 0.5), 0.95).verdict == UNMEASURED
    quiet = _gender_matrix(0.5, 0.5, float("nan"))
    ctl = _controls(9.0, 0.5, comparison="erase gender-F", task="sid")
    f = fp.claim_erasure_hits_own_group("gender", "F", _gender_matrix(10.0, 1.0, 8.0), quiet, "p", controls=ctl)
    assert f.verdict == UNMEASURED and "within its control distribution" in f.why


def test_a_probe_at_ceiling_cannot_show_a_change():
    from speechneurons.findings.verdict import at_ceiling
    from tests.findings.test_findings import _gender_matrix

    assert at_ceiling([100.0, 100.0, float("nan")], 100.0) and not at_ceiling([100.0, 99.0], 100.0)
    assert not at_ceiling([float("nan")], 0.0)
    perfect = _gender_matrix(0.0, 0.0, 0.0).assign(baseline=0.0, value=0.0)
    f = fp.claim_erasure_hits_own_group("gender", "F", perfect, perfect, "p")
    assert f.verdict == UNMEASURED and CANNOT_TEST in f.why and "ceiling" in f.why


def test_sid_claims_name_the_items_the_speaker_probe_scored():
    """probes.sid_unit: frame changes the SID claims' measure, so a verdict on single frames is
    not read as one on utterance means (the positive controls score SID on frames)."""
    from tests.findings.test_findings import _gender_matrix, _pruning

    prune = _pruning(protect=-3.0, random=4.0, control=0.0).assign(task="sid")
    matrix = _gender_matrix(10.0, 1.0, 8.0)
    for unit, shown in (("utterance", "SID accuracy (%)"), ("frame", "SID accuracy on single frames (%)")):
        assert shown in fp.claim_protect_beats_norm("sid", prune, None, 0.95, unit).measure
    for unit, shown in (("utterance", "increase of SID error on"), ("frame", "increase of SID error on single frames")):
        assert shown in fp.claim_erasure_hits_own_group("gender", "F", matrix, matrix, "p", sid_unit=unit).measure
