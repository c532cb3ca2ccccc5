"""Verdicts of the findings page on tables with known answers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from speechneurons.findings import claims as cl
from speechneurons.findings import property_neurons as pn
from speechneurons.findings.page import render, splits_statement, write_page

SET_COLUMNS = [
    "n_phone_type",
    "n_gender",
    "n_pitch",
    "overlap_phone_type_gender",
    "overlap_phone_type_pitch",
    "overlap_gender_pitch",
    "overlap_all",
]


@pytest.mark.parametrize(
    "value, lo, hi, chance_high, verdict",
    [
        (5.0, 2.0, 8.0, math.nan, cl.HOLDS),
        (5.0, 2.0, 8.0, 1.0, cl.HOLDS),
        (5.0, 2.0, 8.0, 6.0, cl.UNMEASURED),  # within chance
        (1.0, -1.0, 3.0, math.nan, cl.UNMEASURED),  # interval includes 0
        (-4.0, -6.0, -2.0, math.nan, cl.FAILS),
        (math.nan, math.nan, math.nan, math.nan, cl.UNMEASURED),
    ],
)
def test_verdict_positive(value, lo, hi, chance_high, verdict):
    assert cl.verdict_positive(value, lo, hi, chance_high)[0] == verdict


def test_ends_minus_middle():
    assert pn.ends_minus_middle([10, 2, 4, 20]) == 12.0
    assert math.isnan(pn.ends_minus_middle([1, 2]))
    # the paper's gender counts: (278 + 151) / 2 - mean(layers 2-11)
    assert pn.ends_minus_middle(pn.ref.REFERENCE_COUNTS["gender"]) == pytest.approx(214.5 - 44.3)


def _summary(counts: dict[str, list[int]], **extra) -> pd.DataFrame:
    n = len(next(iter(counts.values())))
    base = {c: [0] * n for c in SET_COLUMNS}
    return pd.DataFrame({"layer": range(1, n + 1), **base, **counts, **extra})


def _replicates(summary: pd.DataFrame, null: dict[str, list[int]], noise: int = 1, n: int = 40) -> pd.DataFrame:
    """Bootstrap replicates = the summary +- noise; null replicates = ``null`` counts +- noise."""
    rng = np.random.default_rng(0)
    rows = []
    for seed in range(n):
        for i, layer in enumerate(summary["layer"]):
            boot = {c: int(summary[c].iloc[i]) + int(rng.integers(-noise, noise + 1)) for c in SET_COLUMNS}
            rows.append({"kind": "bootstrap", "seed": seed, "layer": layer, **boot})
            nul = {c: (null.get(c, [0] * len(summary))[i] + int(rng.integers(0, noise + 1))) for c in SET_COLUMNS}
            rows.append({"kind": "null", "seed": 1000 + seed, "layer": layer, **nul})
    return pd.DataFrame(rows)


def test_extreme_layers_holds_fails_and_needs_three_layers():
    u = _summary({"n_gender": [30, 5, 4, 25]})
    f = pn.claim_extreme_layers("gender", u, _replicates(u, {"n_gender": [3, 3, 3, 3]}), None, 0.95)
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(27.5 - 4.5) and f.ci_low > 0 and f.chance_high < 5
    # the same shape under permuted labels: not beyond chance
    f = pn.claim_extreme_layers("gender", u, _replicates(u, {"n_gender": [30, 5, 4, 25]}), None, 0.95)
    assert f.verdict == cl.UNMEASURED and "chance" in f.why
    inverted = _summary({"n_gender": [2, 20, 22, 3]})
    f = pn.claim_extreme_layers("gender", inverted, _replicates(inverted, {}), inverted, 0.95)
    assert f.verdict == cl.FAILS and "random weights" in f.why
    two = _summary({"n_gender": [5, 6]})
    assert pn.claim_extreme_layers("gender", two, _replicates(two, {}), None, 0.95).verdict == cl.UNMEASURED


def test_gender_pitch_overlap_claim_and_its_built_in_part():
    s = _summary(
        {
            "overlap_gender_pitch": [12, 0, 0],
            "overlap_phone_type_gender": [2, 0, 0],
            "overlap_phone_type_pitch": [3, 0, 0],
        },
        overlap_gender_pitch_per_gender=[1, 0, 0],
    )
    f = pn.claim_gender_pitch_overlap(s, _replicates(s, {}), 0.95)
    assert f.verdict == cl.HOLDS and f.value == 9 and "per-gender pitch bins gender ∩ pitch = 1" in f.why
    none = _summary({"n_gender": [1, 1, 1]})
    assert pn.claim_gender_pitch_overlap(none, _replicates(none, {}), 0.95).verdict == cl.UNMEASURED


def _pruning(protect: float, random: float, control: float, width: float = 1.0) -> pd.DataFrame:
    """Phone error (lower is better) vs norm at sparsity 0.75: protect, random, protect_random."""
    rows = [dict(strategy="unpruned", sparsity=0.0, task="phone", layer=4, layer_role="last", value=40.0)]
    for st, d in (("norm", 0.0), ("protect", protect), ("random", random), ("protect_random", control)):
        for s in (0.5, 0.75):
            rows.append(
                dict(
                    strategy=st,
                    sparsity=s,
                    task="phone",
                    layer=4,
                    layer_role="best+last",
                    value=50.0 + d,
                    vs_norm=d if st != "norm" else np.nan,
                    vs_norm_ci_low=d - width,
                    vs_norm_ci_high=d + width,
                )
            )
    return pd.DataFrame(rows)


def test_protect_beats_norm_claim():
    assert pn.nearest_sparsity(_pruning(-3, 4, 0)) == 0.75
    f = pn.claim_protect_beats_norm("phone", _pruning(protect=-3.0, random=4.0, control=0.0))
    assert f.verdict == cl.HOLDS and f.value == 3.0 and (f.ci_low, f.ci_high) == (2.0, 4.0)
    assert (f.chance_low, f.chance_high) == (-1.0, 1.0)  # the matched control's improvement
    # protecting a matched random set helps as much: not beyond the control
    assert pn.claim_protect_beats_norm("phone", _pruning(-3.0, 4.0, -3.0)).verdict == cl.UNMEASURED
    assert pn.claim_protect_beats_norm("phone", _pruning(3.0, 4.0, 0.0)).verdict == cl.FAILS
    # random better than norm contradicts the second half of the claim
    assert pn.claim_protect_beats_norm("phone", _pruning(-3.0, -4.0, 0.0)).verdict == cl.FAILS
    # a run without random pruning (strategies [norm, protect]): not measurable, with its reason
    no_random = _pruning(-3.0, 4.0, 0.0).query("strategy != 'random'")
    f = pn.claim_protect_beats_norm("phone", no_random)
    assert f.verdict == cl.UNMEASURED and "no protect / norm / random" in f.why


def _gender_matrix(own: float, other: float, control: float, status: str = "erased") -> pd.DataFrame:
    rows = []
    for erased in ("F", "M"):
        for scored in ("F", "M"):
            d = own if erased == scored else other
            rows.append(
                dict(
                    erased=erased,
                    scored=scored,
                    layer=4,
                    n_erased=5,
                    status=status,
                    baseline=10.0,
                    value=10 + d,
                    delta=d,
                    delta_ci_low=d - 1,
                    delta_ci_high=d + 1,
                    vs_control=control,
                    vs_control_ci_low=control - 1,
                    vs_control_ci_high=control + 1,
                )
            )
    return pd.DataFrame(rows)


def test_erasure_claim():
    quiet = _gender_matrix(0.5, 0.5, np.nan)  # the matched random erasure: no margin
    f = pn.claim_erasure_hits_own_group("gender", "F", _gender_matrix(10.0, 1.0, 8.0), quiet, "paper")
    assert f.verdict == cl.HOLDS and f.value == 9.0
    assert f.ci_low == pytest.approx(9 - math.sqrt(2))
    assert (f.chance_low, f.chance_high) == pytest.approx((-math.sqrt(2), math.sqrt(2)))  # the control's margin
    # the matched random erasure shows the same margin: within chance
    same = pn.claim_erasure_hits_own_group("gender", "F", _gender_matrix(10, 1, 8), _gender_matrix(10, 1, 0), "p")
    assert same.verdict == cl.UNMEASURED and "chance" in same.why
    # as much damage on the erased group as the matched random erasure: not measurable
    weak = pn.claim_erasure_hits_own_group("gender", "F", _gender_matrix(10, 1, 0.5), quiet, "p")
    assert weak.verdict == cl.UNMEASURED
    assert pn.claim_erasure_hits_own_group("gender", "F", _gender_matrix(1, 10, 8), quiet, "p").verdict == cl.FAILS
    empty = _gender_matrix(np.nan, np.nan, np.nan, status="empty: no neuron to erase")
    f = pn.claim_erasure_hits_own_group("gender", "M", empty, empty, "p")
    assert f.verdict == cl.UNMEASURED and "no property neurons of group M" in f.why
    none = pd.DataFrame(columns=["erased", "scored", "layer", "n_erased", "status"])
    assert "no erasure" in pn.claim_erasure_hits_own_group("gender", "M", none, none, "p").why


def test_findings_of_a_run_without_erasures_or_pruning_are_not_measurable():
    s = _summary({"n_gender": [30, 5, 4, 25]})
    out = pn.property_neuron_findings(s, _replicates(s, {}), None, pd.DataFrame(), pd.DataFrame(), 0.95)
    # extreme layers x2, overlap, erasure gender x2, phone type x3, and the same 5 with the probe kept
    assert len(out) == 2 + 1 + 2 + 3 + 5
    assert all(f.verdict == cl.UNMEASURED for f in out[3:])
    assert all(pn.KEPT_PROBE in f.claim and "control_effects" in f.why for f in out[-5:])


def _controls(effect, lo, hi, draws=(-1.0, 1.0), p=1 / 21, layers=(3, 6), **extra):
    """control_effects.tsv rows of the gender-F erasure at two probe layers (the last one read)."""
    rows = [{"comparison": "erase gender-F", "kind": "erasure", "task": "sid", "layer": layer, "effect": effect,
             "effect_ci_low": lo, "effect_ci_high": hi, "n_controls": 20, "control_low": draws[0],
             "control_high": draws[1], "control_p": p, "control_p_below": 1.0, "not_scored": "", **extra}
            for layer in layers]  # fmt: skip
    rows[0]["effect"] = -99.0  # the best layer, not read
    return pd.DataFrame(rows)


def test_erasure_read_with_the_unedited_models_probe():
    def f(table, g="F"):
        return pn.claim_erasure_kept_probe("gender", g, table, "p", pn.GENDER_NAMES, 0.95, "frame")

    held = f(_controls(5.0, 2.0, 8.0))
    assert held.verdict == cl.HOLDS and held.value == 5.0 and "layer 6" in held.why
    assert (held.chance_low, held.chance_high) == (-1.0, 1.0) and "on single frames" in held.measure
    # the interval includes 0; beyond the draws' range but not their rank p-value; within the range
    assert f(_controls(5.0, -1.0, 8.0)).verdict == cl.UNMEASURED
    beyond = f(_controls(5.0, 2.0, 8.0, p=0.2))
    assert beyond.verdict == cl.UNMEASURED and "within its control distribution" in beyond.why
    assert f(_controls(0.5, 0.2, 0.8)).verdict == cl.UNMEASURED
    # below 0 and below every draw: the opposite is measured
    below = _controls(-5.0, -8.0, -2.0, p=1.0, control_p_below=1 / 21)
    assert f(below).verdict == cl.FAILS
    # an erasure the design cannot test here: control_effects' reason; an old table without intervals
    why = "not scored: no layer's gender-neuron count lies above its chance range"
    skipped = f(_controls(np.nan, np.nan, np.nan, n_controls=0, not_scored=why))
    assert skipped.verdict == cl.UNMEASURED and why in skipped.why and pn.CANNOT_TEST in skipped.why
    old = _controls(5.0, 2.0, 8.0).drop(columns=["effect_ci_low", "effect_ci_high"])
    assert "no interval" in f(old).why
    assert "no erasure of male speakers" in f(_controls(5.0, 2.0, 8.0), "M").why
    assert "scored_control_draws" in f(None).why
    # the rate the draws were matched on is named; a table without the column names none
    in_group = f(_controls(5.0, 2.0, 8.0, matched_on="in_group rate"))
    assert (
        in_group.verdict == cl.HOLDS
        and "matched on the activation rate on the frames of female speakers" in in_group.why
    )
    assert "overall activation rate" in f(_controls(5.0, 2.0, 8.0, matched_on="overall rate")).why
    assert "matched on" not in held.why
    # the share of balanced draws is given, with a warning below half
    balanced = f(_controls(5.0, 2.0, 8.0, matched_on="in_group rate", control_balanced=0.9))
    assert "90% of the draws within the balance criterion" in balanced.why and "weaker" not in balanced.why
    poor = f(_controls(5.0, 2.0, 8.0, matched_on="in_group rate", control_balanced=0.0))
    assert "0% of the draws" in poor.why and "the control is weaker than it reads" in poor.why


def test_every_control_distribution_states_its_balance():
    """Claims 3-6 read their control draws through read_against_controls: the share of
    balanced draws is stated whenever the table has it, with a warning below one half."""
    from speechneurons.findings.verdict import read_against_controls

    row = {"effect": 2.0, "n_controls": 20, "control_low": -1.0, "control_high": 1.0, "control_p": 1 / 21,
           "control_p_below": 1.0}  # fmt: skip
    verdict, why = read_against_controls(cl.HOLDS, "x", pd.Series(row), 0.95)
    assert verdict == cl.HOLDS and "balance" not in why
    _, why = read_against_controls(cl.HOLDS, "x", pd.Series(row | {"control_balanced": 0.75}), 0.95)
    assert "75% of the draws within the balance criterion" in why and "weaker" not in why
    verdict, why = read_against_controls(cl.HOLDS, "x", pd.Series(row | {"control_balanced": 0.2}), 0.95)
    assert verdict == cl.HOLDS and "20% of the draws" in why and "the control is weaker than it reads" in why


def test_page_escapes_and_counts_verdicts(tmp_path):
    s = _summary({"n_gender": [30, 5, 4, 25]})
    findings = cl.table([pn.claim_extreme_layers("gender", s, _replicates(s, {}), None, 0.95)])
    findings.loc[0, "why"] = "<script>x</script>"
    text = render(findings, "Findings", ["a & b"], 0.95)
    assert "<script>x" not in text and "&lt;script&gt;" in text and "a &amp; b" in text
    assert "1 holds, 0 does not hold, 0 not measurable here" in text
    write_page(findings, tmp_path / "f.html", "Findings", [], 0.95)
    assert (tmp_path / "f.html").read_text().startswith("<!DOCTYPE html>")
    assert list(findings.columns) == cl.COLUMNS


def test_splits_statement_names_the_splits():
    text = splits_statement(["train"], 0.25, False, 0.2, 7)
    assert "selected on train" in text and "25% of the utterances" in text and "never on test" in text
    assert "test included" in splits_statement([], 0.25, True, 0.2, 7)


def test_page_groups_rows_by_study_in_order():
    s = _summary({"n_gender": [30, 5, 4, 25]})
    lin = cl.table([pn.claim_extreme_layers("gender", s, _replicates(s, {}), None, 0.95)] * 2)
    other = lin.iloc[:1].assign(study="Another study <b>", verdict=cl.UNMEASURED)
    text = render(pd.concat([lin, other], ignore_index=True), "Findings", [], 0.95)
    assert "2 holds, 0 does not hold, 1 not measurable here" in text
    first, second = text.index(f"<h2>{pn.STUDY}</h2>"), text.index("<h2>Another study &lt;b&gt;</h2>")
    assert first < second and text.count("<table>") == 2
    assert "<p>0 holds, 0 does not hold, 1 not measurable here.</p>" in text[second:]
