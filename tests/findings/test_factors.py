"""The pretraining-factor claims (Vielzeuf 2024) on planted learning curves with known answers."""

from __future__ import annotations

import math

import pandas as pd
import yaml

from speechneurons.findings import claims as cl
from speechneurons.findings.factors import classify, factor_findings, steps_to_reach

STEPS = [0, 150, 300, 450, 600]
BASE = [66.0, 50.0, 40.0, 35.0, 30.0]


def _pretrains() -> dict[str, dict]:
    """The pretrain sections of configs/pretraining-factors.yaml, baseline first."""
    with open("configs/pretraining-factors.yaml") as fh:
        cfg = yaml.safe_load(fh)
    base = dict(cfg["pretrain"])
    out = {cfg["model"]["name"]: base}
    for m in cfg["compare"]["models"]:
        out[m["name"]] = base | m["pretrain"]
    return out


def test_runs_of_the_factor_config_are_matched_to_their_claim():
    pre = _pretrains()
    kinds = {name: classify(p, pre["base"]) for name, p in pre.items()}
    assert kinds == dict(base=None, layer6="higher_layer", progressive="progressive", k50=None, k200=None,
                         unmasked0=None)  # fmt: skip
    lower = pre["layer6"] | {"iterations": [dict(it, layer=2) for it in pre["layer6"]["iterations"]]}
    assert classify(lower, pre["base"]) is None  # a lower clustering layer is not the claim's factor


def _equal_steps(curves: dict[str, list[float]], half: float = 1.0) -> pd.DataFrame:
    rows = []
    for run, errors in curves.items():
        for step, err in zip(STEPS, errors, strict=True):
            for layer, extra in ((2, 0.0), (4, 5.0)):  # the best layer is the one read
                v = err + extra
                rows.append(dict(run=run, step=step, measure="probe", key="phone", layer=layer, value=v,
                                 ci_low=v - half, ci_high=v + half))  # fmt: skip
            rows.append(dict(run=run, step=step, measure="pwcca", key="phone", layer=2, value=0.5))
    return pd.DataFrame(rows)


def _heldout(accs: list[float]) -> pd.DataFrame:
    return pd.DataFrame(dict(checkpoint=[f"step-{s}" for s in STEPS], step=STEPS, masked_acc=accs))


def _findings(progressive: list[float], layer6: list[float], half: float = 1.0):
    pre = _pretrains()
    runs = [{"run": r, "pretrain": pre[r]} for r in ("base", "progressive", "layer6")]
    heldout = {
        "base": _heldout([0.01, 0.04, 0.06, 0.08, 0.10]),
        "progressive": _heldout([0.01, 0.06, 0.09, 0.11, 0.12]),
        "layer6": _heldout([0.01, 0.03, 0.04, 0.05, 0.06]),
    }
    curves = {"base": BASE, "progressive": progressive, "layer6": layer6}
    return factor_findings(runs, _equal_steps(curves, half), heldout)


def test_a_faster_run_holds_and_a_slower_one_does_not():
    fast, slow = [66.0, 42.0, 34.0, 31.0, 29.0], [66.0, 56.0, 46.0, 40.0, 31.0]
    prog, layer6 = _findings(progressive=fast, layer6=slow)
    assert prog.verdict == cl.HOLDS and math.isclose(prog.value, (8 + 6 + 4) / 3)
    assert math.isclose(prog.ci_high - prog.value, math.sqrt(3 * 2) / 3)  # three steps, two half-widths of 1 each
    assert "steps to reach base's final held-out masked accuracy 10.0 %: base 600, progressive 375" in prog.why
    assert layer6.verdict == cl.FAILS and "layer6 not reached" in layer6.why


def test_faster_but_worse_at_the_end_does_not_hold_and_noise_is_not_measurable():
    worse_end = [66.0, 42.0, 34.0, 31.0, 36.0]
    prog, _ = _findings(progressive=worse_end, layer6=BASE)
    assert prog.verdict == cl.FAILS and "final step" in prog.why
    same = [66.0, 50.5, 39.5, 35.2, 30.0]
    prog, layer6 = _findings(progressive=same, layer6=BASE)
    assert prog.verdict == cl.UNMEASURED and layer6.verdict == cl.UNMEASURED


def test_no_factor_study_no_rows_and_a_missing_factor_is_not_measurable():
    pre = _pretrains()
    assert factor_findings([{"run": "base", "pretrain": pre["base"]}], None, {}) == []
    runs = [{"run": r, "pretrain": pre[r]} for r in ("base", "k50")]
    rows = factor_findings(runs, _equal_steps({"base": BASE, "k50": BASE}), {})
    assert [f.verdict for f in rows] == [cl.UNMEASURED, cl.UNMEASURED] and "no run" in rows[0].why


def test_steps_to_reach_interpolates_between_checkpoints():
    curve = _heldout([0.0, 0.1, 0.3, 0.35, 0.4])
    assert steps_to_reach(curve, 0.2) == 225.0 and steps_to_reach(curve, 0.0) == 0.0
    assert math.isnan(steps_to_reach(curve, 0.5))
