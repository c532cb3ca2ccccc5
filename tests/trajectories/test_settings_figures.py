"""Settings mirror the schema; the figures are written with labelled axes."""

import dataclasses

import pandas as pd
import pytest

from speechneurons.config import defaults
from speechneurons.trajectories.figures import checkpoint_order, plot_heatmap, plot_layer_curves, plot_reset_top
from speechneurons.trajectories.settings import PWCCASettings, ResetTopSettings, SampleSettings
from tests.helpers.trajectories import pwcca_settings, reset_settings, sample_settings


def test_settings_are_built_from_the_schema_defaults():
    assert reset_settings().n_reset == (0, 1, 2) and pwcca_settings().thresholds[0] == 1e-11
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
    assert checkpoint_order(["final", "step-150", "step-50", "step-0"]) == ["step-0", "step-50", "step-150", "final"]


def test_figures_are_written(tmp_path):
    rows = [
        {"checkpoint": c, "layer": l, "view": "mel", "pwcca": 0.1 * l + 0.05 * i, "pwcca_std": 0.01}
        for i, c in enumerate(["step-0", "final"])
        for l in range(3)
    ]
    summary = pd.DataFrame(rows)
    plot_layer_curves(summary, "mel", tmp_path / "curves.png")
    plot_heatmap(summary, "mel", tmp_path / "heat.png")
    per = pd.DataFrame(
        {"n_reset": [0, 1, 2], "per": [30.0, 28.0, 29.0], "per_low": [28.0, 26.0, 27.0], "per_high": [32.0, 30.0, 31.0]}
    )
    plot_reset_top(per, tmp_path / "per.png")
    assert all((tmp_path / f).stat().st_size > 1000 for f in ("curves.png", "heat.png", "per.png"))
    with pytest.raises(ValueError):
        plot_heatmap(summary, "word", tmp_path / "none.png")
