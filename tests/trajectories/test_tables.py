"""Runs, checkpoints at equal steps and the gathered tables, on hand-made inputs."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.config import defaults
from speechneurons.study import merged
from speechneurons.trajectories.runs import (
    checkpoint_steps,
    common_steps,
    describe_schedule,
    distinct_checkpoints,
    factor_label,
)
from speechneurons.trajectories.tables import add_steps, at_steps, compare_runs, findings, gather_counts, rise


def _it(steps, targets="mfcc", layer=4, k=100, init="scratch"):
    return {"steps": steps, "targets": targets, "layer": layer, "n_clusters": k, "init": init}


BASE = merged(defaults()["pretrain"], {"iterations": [_it(600)], "checkpoint_steps": [0, 50, 150, 300]})
PROGRESSIVE = merged(
    BASE,
    {"iterations": [_it(200), _it(200, "layer", 4, 100, "resume"), _it(200, "layer", 4, 100, "resume")],
     "checkpoint_steps": [0, 50, 150, 200]},
)  # fmt: skip


def test_checkpoints_are_named_by_global_step_and_runs_meet_at_equal_steps():
    base = checkpoint_steps(BASE)
    assert base == {"step-0": (1, 0), "step-50": (1, 50), "step-150": (1, 150), "step-300": (1, 300), "final": (1, 600)}
    prog = checkpoint_steps(PROGRESSIVE)
    assert prog["step-250"] == (2, 250) and prog["step-200"] == (1, 200) and prog["final"] == (3, 600)
    assert "step-600" in prog and "step-600" not in distinct_checkpoints(PROGRESSIVE)  # the final model again
    steps = {"base": [s for _, s in base.values()], "prog": [s for _, s in prog.values()]}
    assert common_steps(steps) == [0, 50, 150, 600]


def test_factor_labels_name_what_a_run_changes():
    assert factor_label(BASE, BASE) == "baseline"
    assert factor_label(merged(BASE, {"unmasked_weight": 0.0}), BASE) == "unmasked_weight=0.0"
    assert factor_label(PROGRESSIVE, BASE) == "schedule=200:mfcc/K100+200:L4/K100r+200:L4/K100r"
    assert describe_schedule(BASE) == "600:mfcc/K100"


def _pwcca(rises_at_top=True):
    rows, trials = [], []
    for ckpt in ("step-0", "final"):
        for layer in range(4):
            mel = [0.8, 0.5, 0.4, 0.6 if rises_at_top else 0.35][layer]
            phone = [0.2, 0.5, 0.7, 0.6][layer]
            for view, v in (("mel", mel), ("phone", phone)):
                rows.append({"checkpoint": ckpt, "layer": layer, "view": view, "pwcca": v, "pwcca_std": 0.01})
                for t, d in enumerate((-0.01, 0.0, 0.01)):
                    trials.append({"checkpoint": ckpt, "layer": layer, "view": view, "trial": t, "test_pwcca": v + d})
    steps = {"step-0": (1, 0), "final": (1, 600)}
    return add_steps(pd.DataFrame(rows), steps), pd.DataFrame(trials)


def test_findings_give_the_peak_phone_layer_and_the_top_layer_rise():
    pwcca, trials = _pwcca()
    f = findings(pwcca, trials, ["mel"]).set_index("checkpoint")
    assert list(f.index) == ["step-0", "final"] and f.loc["final", "step"] == 600
    assert f.loc["final", "peak_phone_layer"] == 2 and f.loc["final", "peak_phone_pwcca"] == pytest.approx(0.7)
    assert f.loc["final", "mel_min_layer"] == 2 and f.loc["final", "mel_rise"] == pytest.approx(0.2)
    assert bool(f.loc["final", "mel_rises"]) and bool(f.loc["final", "mel_rises_again"])  # falls, then rises
    pwcca, trials = _pwcca(rises_at_top=False)
    r = rise(pwcca, trials, "mel").set_index("checkpoint")
    assert r.loc["final", "rise"] == pytest.approx(-0.05) and not r.loc["final", "rises"]
    assert not r.loc["final", "rises_again"]


def test_a_curve_that_only_grows_with_depth_rises_but_not_again():
    pwcca, trials = _pwcca()
    grow = {0: 0.2, 1: 0.3, 2: 0.4, 3: 0.5}
    pwcca.loc[pwcca["view"] == "mel", "pwcca"] = pwcca.loc[pwcca["view"] == "mel", "layer"].map(grow)
    trials.loc[trials["view"] == "mel", "test_pwcca"] = trials.loc[trials["view"] == "mel", "layer"].map(grow)
    r = rise(pwcca, trials, "mel").set_index("checkpoint")
    assert r.loc["final", "min_layer"] == 0 and r.loc["final", "rise"] == pytest.approx(0.3)
    assert r.loc["final", "rises"] and not r.loc["final", "rises_again"]


def test_counts_and_runs_tables():
    summary = pd.DataFrame({"layer": [1, 2], "D": 8, "n_frames": 5, "n_phone_type": [3, 1], "n_gender": [0, 2],
                            "n_pitch": [1, 1], "group_gender_F": [0, 1]})  # fmt: skip
    counts = gather_counts({"final": summary, "step-0": summary}, {"step-0": (1, 0), "final": (1, 600)})
    assert counts["checkpoint"].tolist() == ["step-0", "step-0", "final", "final"]
    assert counts["step"].tolist() == [0, 0, 600, 600] and "n_frames" not in counts
    pwcca, trials = _pwcca()
    f = findings(pwcca, trials, ["mel"])
    reset = pd.DataFrame({"n_reset": [0, 1, 2], "per": [50.0, 45.0, 47.0], "delta_vs_0": [0.0, -5.0, -3.0],
                          "delta_low": [0.0, -7.0, -5.0], "delta_high": [0.0, -3.0, -1.0]})  # fmt: skip
    heldout = pd.DataFrame({"checkpoint": ["final"], "masked_acc": [0.3], "chance": [0.01]})
    probes = pd.DataFrame({"checkpoint": "final", "task": "phone", "layer": [1, 2], "value": [40.0, 35.0]})
    runs = [{"run": "base", "factor": "baseline", "schedule": "600:mfcc/K100", "total_steps": 600}]
    table = compare_runs(runs, {"base": f}, {"base": probes}, {"base": reset}, {"base": heldout})
    row = table.iloc[0]
    assert row["best_n"] == 1 and row["best_delta_vs_0"] == -5.0 and row["per_n0"] == 50.0
    assert row["peak_phone_layer"] == 2 and row["best_probe_phone_error"] == 35.0 and row["heldout_masked_acc"] == 0.3
    both = at_steps({"a": pwcca, "b": pwcca[pwcca["checkpoint"] == "final"]}, [0, 600])
    assert set(both["run"]) == {"a", "b"} and np.array_equal(sorted(both["step"].unique()), [0, 600])
