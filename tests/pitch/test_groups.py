"""Pitch groups (speechneurons.pitch_groups): equal-count cut points on known distributions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from speechneurons.errors import BadInputError
from speechneurons.pitch.figures import plot_f0_distributions
from speechneurons.pitch.groups import assign_bins, cut_points, pitch_groups


def f0_table(values_by_utt: dict[str, np.ndarray], unvoiced_every: int = 0) -> pd.DataFrame:
    parts = []
    for utt, values in values_by_utt.items():
        f0 = np.asarray(values, dtype=np.float64).copy()
        voiced = np.ones(len(f0), dtype=bool)
        if unvoiced_every:
            voiced[::unvoiced_every] = False
            f0[~voiced] = np.nan
        parts.append(pd.DataFrame({"utt_id": utt, "frame": np.arange(len(f0)), "f0_hz": f0, "voiced": voiced}))
    return pd.concat(parts, ignore_index=True)


def test_cut_points_of_known_distribution():
    values = np.arange(1, 301, dtype=float)  # 1..300: tertiles at 1 + 299/3 and 1 + 2 * 299/3
    np.testing.assert_allclose(cut_points(values, 3), [1 + 299 / 3, 1 + 2 * 299 / 3])
    np.testing.assert_allclose(cut_points(np.arange(1, 102, dtype=float), 4), [26, 51, 76])
    np.testing.assert_allclose(cut_points(np.r_[values, np.nan, 0.0], 3), cut_points(values, 3))  # NaN/0 ignored
    with pytest.raises(ValueError):
        cut_points(np.array([np.nan]), 3)
    with pytest.raises(ValueError):
        cut_points(values, 1)


def test_assign_bins_rule():
    edges = np.array([100.0, 200.0])
    f0 = np.array([50.0, 100.0, 150.0, 200.0, 250.0, np.nan, 150.0])
    voiced = np.array([True, True, True, True, True, False, False])
    bins = assign_bins(f0, voiced, edges)
    assert bins.dtype == np.int8
    assert bins.tolist() == [0, 1, 1, 2, 2, -1, -1]  # a cut point belongs to the bin above it


def test_pooled_bins_are_equal_count_and_unvoiced_get_none():
    rng = np.random.default_rng(0)
    table = f0_table(
        {"a": rng.permutation(np.arange(100, 250.0)), "b": rng.permutation(np.arange(250, 400.0))}, unvoiced_every=7
    )
    out, info = pitch_groups(table, 3, "pooled")
    assert list(out.columns) == ["utt_id", "frame", "f0_hz", "voiced", "pitch_bin"]
    assert out["pitch_bin"].dtype == np.int8
    assert (out.loc[~out["voiced"], "pitch_bin"] == -1).all()
    counts = np.bincount(out.loc[out["voiced"], "pitch_bin"], minlength=3)
    assert counts.max() - counts.min() <= 1
    f0 = table.loc[table["voiced"], "f0_hz"].to_numpy()
    np.testing.assert_allclose(info["cut_points_hz"]["all"], np.quantile(f0, [1 / 3, 2 / 3]))
    assert info["counts"]["all"]["per_bin"] == counts.tolist()
    np.testing.assert_allclose(info["quantiles"], [1 / 3, 2 / 3])


def test_per_gender_bins():
    table = f0_table({"f1": np.arange(200, 300.0), "m1": np.arange(100, 160.0), "m2": np.arange(160, 200.0)})
    gender = {"f1": "F", "m1": "M", "m2": "M"}
    out, info = pitch_groups(table, 2, "per_gender", gender)
    np.testing.assert_allclose(info["cut_points_hz"]["F"], [249.5])
    np.testing.assert_allclose(info["cut_points_hz"]["M"], [149.5])
    for g in ("F", "M"):
        sel = out["utt_id"].map(gender) == g
        assert out.loc[sel, "pitch_bin"].value_counts().tolist() == [sel.sum() // 2] * 2
    pooled, pinfo = pitch_groups(table, 2, "pooled")
    np.testing.assert_allclose(pinfo["cut_points_hz"]["all"], [199.5])
    assert (pooled.loc[pooled.utt_id == "f1", "pitch_bin"] == 1).all()


def test_per_gender_needs_every_gender():
    table = f0_table({"a": np.arange(100, 110.0), "b": np.arange(100, 110.0)})
    with pytest.raises(BadInputError, match="b"):
        pitch_groups(table, 3, "per_gender", {"a": "F"}, source="f0.parquet")
    with pytest.raises(ValueError):
        pitch_groups(table, 3, "per_gender")


def test_no_voiced_frames_is_bad_input():
    table = f0_table({"a": np.arange(100, 110.0)}, unvoiced_every=1)
    with pytest.raises(BadInputError, match="no voiced"):
        pitch_groups(table, 3, "pooled")


def test_deterministic():
    table = f0_table({"a": np.random.default_rng(1).uniform(80, 300, 500)})
    a, ia = pitch_groups(table, 3, "pooled")
    b, ib = pitch_groups(table, 3, "pooled")
    pd.testing.assert_frame_equal(a, b)
    assert ia == ib


def test_figure_is_written(tmp_path):
    rng = np.random.default_rng(0)
    table = f0_table({"f1": rng.normal(210, 20, 200), "m1": rng.normal(115, 10, 200)}, unvoiced_every=5)
    speakers = pd.DataFrame({"utt_id": ["f1", "m1"], "speaker": ["sf", "sm"], "gender": ["F", "M"]})
    out, info = pitch_groups(table, 3, "per_gender", dict(zip(speakers.utt_id, speakers.gender)))
    path = tmp_path / "f0.png"
    plot_f0_distributions(out, speakers, info, str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
