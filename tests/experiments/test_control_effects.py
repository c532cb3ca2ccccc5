"""Fixed probes scored on variant features, and effects read against control distributions."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.experiments import control_effects as ce
from speechneurons.probing.features import Features
from speechneurons.probing.probes import ProbeSettings

SETTINGS = ProbeSettings(("phone", "sid", "gender"), "utterance", "ridge", 2, 0.2, 1.0, 100, 1.0, 0)


def _feats(noise_on=None, seed=0, h=8):
    """Utterances of 4 speakers (2 F, 2 M); dims 0-3 code speaker and gender, dims 4-5 the phone.
    ``noise_on``: 'phone' or 'speaker' destroys that code (an erasure of its neurons)."""
    rng = np.random.default_rng(seed)
    spk = ["f1", "f2", "m1", "m2"]
    rows = [{"utt_id": f"{s}_{i}", "speaker": s, "gender": s[0].upper(), "split": "train" if i < 4 else "test"}
            for s in spk for i in range(6)]  # fmt: skip
    utts = pd.DataFrame(rows)
    x = rng.normal(0, 0.05, (len(utts), h)).astype(np.float32)
    code = {s: np.eye(4)[i] for i, s in enumerate(spk)}
    keep = np.ones(len(utts), dtype=bool) if noise_on != "speaker_M" else (utts["gender"] == "F").to_numpy()
    if noise_on != "speaker":
        x[keep, :4] += np.stack([code[s] for s in utts["speaker"][keep]])
    fr = []
    for u in utts.itertuples():
        for f in range(10):
            ph = ["AA", "S"][f % 2]
            fr.append({"utt_id": u.utt_id, "frame": f, "split": u.split, "speaker": u.speaker, "gender": u.gender,
                       "phone": ph, "phone_type": "vowel" if ph == "AA" else "unvoiced_consonant",
                       "f0_hz": 100.0, "pitch_bin": 0, "use_phone": True, "use_f0": True})  # fmt: skip
    frames = pd.DataFrame(fr)
    ff = rng.normal(0, 0.05, (len(frames), h)).astype(np.float32)
    if noise_on != "phone":
        ff[:, 4] += (frames["phone"] == "AA").to_numpy()
    return Features(frames, utts, {1: ff}, {1: x})


def test_fixed_probes_score_clean_features_perfectly_and_erased_ones_badly():
    probes = ce.fit_fixed_probes(_feats(), {"phone": [1], "sid": [1], "gender": [1]}, SETTINGS)
    err = ce.fixed_probe_errors(probes, {"base": _feats(seed=1), "no_phone": _feats("phone", seed=1)})
    e = err.set_index(["variant", "task", "eval_group"])["error"]
    assert e[("base", "phone", "all")] == 0 and e[("base", "sid", "all")] == 0
    assert e[("no_phone", "phone", "all")] >= 25  # the phone code is gone: near chance (50 %)
    assert e[("no_phone", "sid", "all")] == 0  # speakers untouched
    assert set(err["eval_group"]) >= {"all", "gender=F", "gender=M", "phone_type=vowel"}


def test_erasure_margin_and_pruning_effect_on_hand_made_errors():
    errors = pd.DataFrame(
        [("ref", "sid", 1, "gender=F", 10.0), ("ref", "sid", 1, "gender=M", 10.0), ("ref", "sid", 1, "all", 10.0),
         ("v", "sid", 1, "gender=F", 12.0), ("v", "sid", 1, "gender=M", 40.0), ("v", "sid", 1, "all", 26.0)],
        columns=["variant", "task", "layer", "eval_group", "error"],
    )  # fmt: skip
    assert ce.erasure_margin(errors, "v", "ref", "sid", 1, "gender=M") == pytest.approx(28.0)
    assert ce.erasure_margin(errors, "v", "ref", "sid", 1, "gender=F") == pytest.approx(-28.0)
    assert ce.pruning_effect(errors, "v", "ref", "sid", 1) == pytest.approx(-16.0)


def _unit_losses(rows):
    """UnitLosses from (unit, group, loss sum, count) rows."""
    df = pd.DataFrame(rows, columns=["unit", "group", "sum", "n"])
    return ce.UnitLosses(df.pivot(index="unit", columns="group", values="sum"),
                         df.pivot(index="unit", columns="group", values="n").astype(float))  # fmt: skip


def test_effect_interval_known_answers():
    units = [f"u{i}" for i in range(8)]
    ref = _unit_losses([(u, g, 1.0, 10) for u in units for g in ("F", "M")])  # 10 % error everywhere
    # every unit: M error 10 -> 40 %, F unchanged: the margin is +30 points in every resample
    hit = _unit_losses([(u, "F", 1.0, 10) for u in units] + [(u, "M", 4.0, 10) for u in units])
    lo, hi = ce.effect_interval("erasure", hit, ref, "sid", "M", 500, 0, 0.95)
    assert lo == pytest.approx(30.0) and hi == pytest.approx(30.0)
    lo, hi = ce.effect_interval("erasure", hit, ref, "sid", "F", 500, 0, 0.95)
    assert lo == pytest.approx(-30.0) and hi == pytest.approx(-30.0)
    # pruning: reference error minus the variant's, on all items (here -15 points: the variant loses more)
    lo, hi = ce.effect_interval("pruning", hit, ref, "sid", None, 500, 0, 0.95)
    assert lo == pytest.approx(-15.0) and hi == pytest.approx(-15.0)
    # half the units lose 20 points on M, half gain 20: the mean margin is 0 and the interval spans it
    mixed = _unit_losses([(u, "F", 1.0, 10) for u in units]
                         + [(u, "M", 3.0 if i % 2 else -1.0, 10) for i, u in enumerate(units)])  # fmt: skip
    lo, hi = ce.effect_interval("erasure", mixed, ref, "sid", "M", 2000, 0, 0.95)
    assert lo < 0 < hi and hi - lo > 10
    # no resamples, an unknown group or a single group: no interval
    assert np.isnan(ce.effect_interval("erasure", hit, ref, "sid", "M", 0, 0, 0.95)).all()
    assert np.isnan(ce.effect_interval("erasure", hit, ref, "sid", "X", 100, 0, 0.95)).all()


def test_control_distribution_rank_p_and_range():
    d = ce.control_distribution(10.0, np.arange(19.0) * 0.1, 0.9)
    assert d["control_p"] == pytest.approx(1 / 20) and d["n_controls"] == 19
    assert d["control_low"] < d["control_high"] < 10
    inside = ce.control_distribution(0.9, np.arange(19.0) * 0.1, 0.9)
    assert inside["control_p"] == pytest.approx(11 / 20)  # 0.9 .. 1.8 are at least as large


def test_table_reads_an_erasure_against_its_controls():
    base = {"base": _feats(seed=1), "erase": _feats("speaker_M", seed=1)}
    controls = {f"c{i}": _feats(seed=2 + i) for i in range(9)}
    probes = ce.fit_fixed_probes(_feats(), {"sid": [1]}, SETTINGS)
    errors = ce.fixed_probe_errors(probes, base | controls)
    comp = [{"name": "erase gender-M", "kind": "erasure", "variant": "erase", "reference": "base",
             "controls": list(controls), "property": "gender", "group": "M"}]  # fmt: skip
    t = ce.control_effects_table(errors, comp, {"sid": [1]}, 0.95)
    assert len(t) == 1 and t["n_controls"].iloc[0] == 9
    # the male speakers' code is gone: their SID error rises, the female speakers' does not, and
    # no control (features redrawn, codes kept) comes near: the smallest rank p-value of 9 draws
    assert t["effect"].iloc[0] >= 50 > t["control_high"].iloc[0]
    assert t["control_p"].iloc[0] == pytest.approx(1 / 10)
    assert t[["effect_ci_low", "effect_ci_high"]].isna().all(axis=None)  # no losses given: no interval
    # with the per-unit losses, the effect gets its paired bootstrap interval over utterances
    losses = ce.fixed_probe_losses(probes, base | controls)
    assert ce.errors_from_losses(losses).equals(errors)
    t = ce.control_effects_table(errors, comp, {"sid": [1]}, 0.95, None, losses, 200, 0)
    # (4 male test utterances, 2 of them now misnamed: the interval is honest about so few units)
    assert t["effect_ci_low"].iloc[0] <= t["effect"].iloc[0] <= t["effect_ci_high"].iloc[0]
    assert t["effect_ci_high"].iloc[0] - t["effect_ci_low"].iloc[0] >= 50
    # an erasure the design cannot test here is listed with its reason and no effect, and the
    # findings read no control distribution from it
    why = "not scored: no layer's gender-neuron count lies above its chance range"
    t2 = ce.control_effects_table(errors, comp, {"sid": [1, 6]}, 0.95, {"gender-F": why})
    skipped = t2[t2["comparison"] == "erase gender-F"]
    assert skipped["layer"].tolist() == [1, 6] and (skipped["n_controls"] == 0).all()
    assert skipped["effect"].isna().all() and (skipped["not_scored"] == why).all()
    assert (t2.loc[t2["comparison"] == "erase gender-M", "not_scored"] == "").all()
    # the rate the draws were matched on goes into the rows (empty when the comparison has none)
    assert (t2["matched_on"] == "").all()
    t3 = ce.control_effects_table(
        errors, [comp[0] | {"matched_on": "in_group rate", "control_balanced": 0.25}], {"sid": [1]}, 0.95
    )
    assert t3["matched_on"].tolist() == ["in_group rate"] and t3["control_balanced"].tolist() == [0.25]
    assert t2["control_balanced"].isna().all()
    from speechneurons.findings.property_neurons import control_row

    assert control_row(t2, "erase gender-F", "sid") is None
    assert control_row(t2, "erase gender-M", "sid", 1)["n_controls"] == 9


def test_plan_variants_names_every_variant_its_comparison_uses():
    import torch

    torch.manual_seed(0)
    pairs = {1: (torch.nn.Linear(4, 10), torch.nn.Linear(10, 4))}
    draws = [{1: [5, 6]}, {1: [7, 8]}]
    masks, comps = ce.plan_variants(pairs, {1: [0, 1]}, draws, [0.5], {"gender-M": ({1: [2]}, [{1: [3]}])}, 0)
    assert len(comps) == 2
    for c in comps:
        assert {c["variant"], c["reference"], *c["controls"]} <= set(masks)
    assert not {0, 1} & set(masks["prune 0.5 protect"][1]) and len(masks["prune 0.5 protect"][1]) == 5
    assert not {5, 6} & set(masks["prune 0.5 protect_random 0"][1])
    assert masks["erase gender-M"] == {1: [2]} and masks["erase gender-M random 0"] == {1: [3]}


def test_in_group_controls_act_as_often_where_the_erased_neurons_act(tmp_path):
    """Planted rates: the erased neurons 0-3 are active on every female frame and no male one
    (overall rate 0.5); pool neurons 4-7 are active on half of all frames, pool neurons 8-11 on
    every frame. Matched on the overall rate, the control is 4-7 (rate 0.5 on female frames,
    half the erased neurons'); matched on the female frames' rate, it is 8-11 (rate 1 there)."""
    from speechneurons.experiments.jobs import erasure_rates
    from speechneurons.stats.controls import matched_controls

    nF = nM = 100
    A_F = np.array([[100] * 4 + [50] * 4 + [100] * 4])
    A_M = np.array([[0] * 4 + [50] * 4 + [100] * 4])
    path = tmp_path / "P.npz"
    np.savez(path, A__gender__F=A_F, n__gender__F=np.array([nF]), A__gender__M=A_M, n__gender__M=np.array([nM]),
             A__phone_type__vowel=A_F + A_M, n__phone_type__vowel=np.array([nF + nM]))  # fmt: skip
    neurons = {1: {"layer": 1}}
    erased = {1: np.arange(4)}
    for how, expect in (("overall", [4, 5, 6, 7]), ("in_group", [8, 9, 10, 11])):
        rates = erasure_rates(neurons, [path], "gender-F", how)
        draws = matched_controls(erased, rates, 3, 0, 0, neighbours=4)
        assert all(sorted(d[1].tolist()) == expect for d in draws), (how, draws)
    np.testing.assert_allclose(erasure_rates(neurons, [path], "gender-M", "in_group")[1][:4], 0.0)
    with pytest.raises(ValueError, match="erasure_control_rate must be one of"):
        erasure_rates(neurons, [path], "gender-F", "within")
