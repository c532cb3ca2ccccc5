"""Settings mirror the schema; the figures are written with labelled axes."""

import dataclasses

import pandas as pd
import pytest

from speechneurons.config import defaults
from speechneurons.trajectories.figures import (
    plot_counts,
    plot_heatmap,
    plot_layer_curves,
    plot_reset_top,
    plot_runs,
    plot_runs_reset_top,
    probe_measure,
    pwcca_measure,
)
from speechneurons.trajectories.runs import checkpoint_order
from speechneurons.trajectories.settings import PWCCASettings, ResetTopSettings, SampleSettings
from tests.helpers.trajectories import pwcca_settings, reset_settings, sample_settings


def test_settings_are_built_from_the_schema_defaults():
    assert reset_settings().n_reset == (0, 1, 2) and pwcca_settings().thresholds[0] == 1e-10
    assert sample_settings().layers == ()
    section = defaults()["trajectories"]
    for cls, keys in (
        (SampleSettings, section),
        (PWCCASettings, section["pwcca"]),
        (ResetTopSettings, section["reset_top"]),
    ):
        assert all(f.default is dataclasses.MISSING for f in dataclasses.fields(cls))
        assert {f.name for f in dataclasses.fields(cls)} <= set(keys)
    # the nested sections and the keys read by the rules themselves are all the top-level keys
    assert set(section) == {f.name for f in dataclasses.fields(SampleSettings)} | {
        "checkpoints",
        "count_checkpoints",
        "runs",
        "pwcca",
        "reset_top",
    }


def test_checkpoints_are_ordered_by_pretraining_step():
    assert checkpoint_order(["final", "step-150", "step-50", "step-0", "random"]) == [
        "random",
        "step-0",
        "step-50",
        "step-150",
        "final",
    ]


def test_figures_are_written(tmp_path):
    rows = [
        {"checkpoint": c, "step": st, "layer": l, "view": "mel", "pwcca": 0.1 * l + 0.05 * i, "pwcca_std": 0.01}
        for i, (c, st) in enumerate([("step-0", 0), ("final", 600)])
        for l in range(3)
    ]
    summary = pd.DataFrame(rows)
    mel = pwcca_measure(summary, "mel")
    plot_layer_curves(mel, tmp_path / "curves.png", ylabel="PWCCA", title="mel", spread="sd")
    plot_heatmap(mel, tmp_path / "heat.png", label="PWCCA", title="mel", unit_range=True)
    probes = pd.DataFrame(
        {"checkpoint": "final", "task": "phone", "layer": [0, 1, 2], "value": [60.0, 50, 55], "ci_low": [58.0, 48, 53],
         "ci_high": [62.0, 52, 57]}
    )  # fmt: skip
    plot_layer_curves(probe_measure(probes, "phone"), tmp_path / "probe.png", ylabel="error (%)", title="phone")
    per = pd.DataFrame(
        {"n_reset": [0, 1, 2], "per": [30.0, 28.0, 29.0], "per_low": [28.0, 26.0, 27.0], "per_high": [32.0, 30.0, 31.0]}
    )
    plot_reset_top(per, tmp_path / "per.png", 0.95)
    counts = pd.DataFrame(
        {"checkpoint": ["step-0", "step-0", "final", "final"], "layer": [1, 2, 1, 2], "n_phone_type": [1, 2, 3, 4],
         "n_gender": [0, 0, 1, 1], "n_pitch": [2, 2, 0, 1]}
    )  # fmt: skip
    plot_counts(counts, tmp_path / "counts.png")
    runs = pd.concat([mel.assign(run="base"), mel.assign(run="prog", value=mel["value"] / 2)])
    plot_runs(runs, tmp_path / "runs.png", ylabel="PWCCA", title="mel", labels={"prog": "schedule=..."})
    plot_runs_reset_top(pd.concat([per.assign(run="a"), per.assign(run="b")]), tmp_path / "runs_per.png", 0.95)
    names = ("curves.png", "heat.png", "probe.png", "per.png", "counts.png", "runs.png", "runs_per.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in names)
    with pytest.raises(ValueError):
        pwcca_measure(summary, "word")
