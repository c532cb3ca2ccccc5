"""Chance levels and sensitivity of the property-neuron counts, on planted data."""

from __future__ import annotations

import numpy as np
import pytest

from speechneurons.properties import chance as ch
from speechneurons.properties import nulls as nl
from speechneurons.properties import statistic as pr
from tests.properties.test_statistic import PLANT, make_index, planted


def _setup(frames_per_cell=4):
    index = make_index(frames_per_cell=frames_per_cell)
    utts = (index["gender"] + np.random.default_rng(0).integers(0, 12, len(index)).astype(str)).to_numpy()
    acts = planted(index, PLANT)
    labels = pr.frame_labels(index, 3)
    return index, utts, labels, pr.top_neurons(acts, labels, 3)


def test_null_counts_lose_the_planted_neurons():
    index, utts, labels, top = _setup()
    null, sets = ch.resample_counts(top, labels, utts, 1, 0.8, 1, 3, null_seeds=[0, 1, 2])
    assert list(null.columns) == ch.NULL_COLUMNS and set(null["seed"]) == {0, 1, 2}
    real = ch.min_count_sensitivity(top, labels, 1, 0.8, [1], 3)
    gender_real = real[(real.property == "gender")]["n_property_neurons"].iloc[0]
    gender_null = null[null.property == "gender"].groupby("seed")["n_property_neurons"].first()
    assert gender_real >= 1 and (gender_null < gender_real).all()
    assert sets["kind"].tolist() == ["null"] * 3
    assert sets.set_index("seed")["n_gender"].to_dict() == gender_null.to_dict()
    columns = nl.chance_columns(sets, {}, 0.95)
    for prop in ("phone_type", "gender", "pitch"):
        assert columns[f"chance_low_n_{prop}"] <= columns[f"chance_n_{prop}"] <= columns[f"chance_high_n_{prop}"]
    assert "ci_low_n_gender" not in columns  # no bootstrap replicates asked for


def test_bootstrap_of_a_planted_unit_keeps_it_and_unit_weights_change_nothing():
    index, utts, labels, top = _setup()
    n_groups = {p: len(g) for p, g in pr.property_groups(3).items()}
    plain = pr.count_top(top, labels, n_groups)
    ones = pr.count_top(top, labels, n_groups, np.ones(len(index), dtype=np.int64))
    for prop in plain.active:
        assert (plain.active[prop] == ones.active[prop]).all() and (plain.frames[prop] == ones.frames[prop]).all()
    twice = pr.count_top(top, labels, n_groups, np.full(len(index), 2))
    assert (twice.active["gender"] == 2 * plain.active["gender"]).all()
    _, sets = ch.resample_counts(top, labels, utts, 1, 0.8, 1, 3, null_seeds=[], bootstrap_seeds=range(5))
    assert (sets["kind"] == "bootstrap").all() and len(sets) == 5
    assert (sets["n_gender"] >= 1).all()  # the planted female neuron survives every resample
    observed = pr.set_counts(pr.layer_properties(plain, 1, 0.8, 1, 3).property_neurons)
    columns = nl.chance_columns(sets, observed, 0.95)
    assert "chance_n_gender" not in columns
    # the interval is centred on the observed count and holds the resamples' central range
    lo, hi = columns["ci_low_n_gender"], columns["ci_high_n_gender"]
    assert lo <= observed["n_gender"] <= hi and (lo + hi) / 2 == pytest.approx(observed["n_gender"])
    assert lo <= sets["n_gender"].quantile(0.025) and sets["n_gender"].quantile(0.975) <= hi


def test_min_count_sensitivity_drops_phones_with_too_few_frames():
    index, utts, labels, top = _setup(frames_per_cell=4)
    table = ch.min_count_sensitivity(top, labels, 1, 0.8, [1, 5], 3)
    # each (phone, gender) cell has 12 frames, each (phone, pitch) cell 8: min_count 5 keeps them all
    a = table[table.min_count == 1].set_index(["property", "group"])["n_group_neurons"]
    b = table[table.min_count == 5].set_index(["property", "group"])["n_group_neurons"]
    assert (a == b).all()
    none = ch.min_count_sensitivity(top, labels, 1, 0.8, [1000], 3)
    assert none["n_group_neurons"].sum() == 0  # no phone has 1000 frames: no C_g, no group neurons


def test_silhouette_is_high_for_a_planted_gender_split_and_low_without_one():
    index = make_index(frames_per_cell=6)
    rng = np.random.default_rng(0)
    acts = rng.uniform(-0.5, 0.5, size=(len(index), 100)).astype(np.float16)
    female = (index["gender"] == "F").to_numpy()
    acts[np.ix_(female, np.arange(0, 10))] += 5.0  # ten neurons fire on every female frame
    acts[np.ix_(~female, np.arange(10, 20))] += 5.0
    settings = pr.PropertySettings(0.1, 0.8, 1, (), "threshold", 0.05)
    s = ch.silhouette_scores(pr.compute_layer(acts, index, layer=1, settings=settings, n_pitch_bins=3))
    assert s["gender"] > 0.5
    assert abs(s["pitch"]) < 0.2  # pitch bins carry nothing here


def test_gender_pitch_table_counts_frames():
    index = make_index(frames_per_cell=2)
    table = ch.gender_pitch_table(pr.frame_labels(index, 3), 3)
    assert table["frames_F"].tolist() == [78, 78, 78] and (table["share_F"] == 0.5).all()


def _gendered_pitch(frames_per_cell=6):
    """Female frames high-pitched and male frames low-pitched, with a spread inside each gender;
    neuron 5 fires on the top pitch third of each gender, neuron 1 on every female frame."""
    index = make_index(frames_per_cell=frames_per_cell)
    rng = np.random.default_rng(1)
    female = (index["gender"] == "F").to_numpy()
    f0 = np.where(female, 220.0, 110.0) + rng.uniform(-30, 30, len(index))
    return index, f0, female


def test_recut_pitch_labels_pooled_copies_gender_and_per_gender_does_not():
    index, f0, female = _gendered_pitch()
    labels = pr.frame_labels(index, 3)
    pooled = ch.gender_pitch_table(ch.recut_pitch_labels(labels, f0, 3, "pooled"), 3)
    assert pooled["share_F"].iloc[0] == 0.0 and pooled["share_F"].iloc[-1] == 1.0
    per_gender = ch.gender_pitch_table(ch.recut_pitch_labels(labels, f0, 3, "per_gender"), 3)
    assert np.allclose(per_gender["share_F"], 0.5, atol=0.02)
    # bins are equal-count within each gender
    assert per_gender["frames_F"].max() - per_gender["frames_F"].min() <= 1


def test_binning_sensitivity_shows_the_overlap_the_pooled_bins_build_in():
    index, f0, female = _gendered_pitch()
    index["pitch_bin"] = 0  # two bins, cut again below: pooled, low = male and high = female
    labels = pr.frame_labels(index, n_pitch_bins=2)
    pooled = ch.recut_pitch_labels(labels, f0, 2, "pooled")
    rng = np.random.default_rng(0)
    acts = rng.uniform(-0.5, 0.5, size=(len(index), 100)).astype(np.float16)
    acts[female, 1] = 10.0  # a gender neuron
    top = pr.top_neurons(acts, pooled, 3)
    table = ch.binning_sensitivity(top, pooled, f0, "pooled", layer=1, sigma=0.8, min_count=1, n_pitch_bins=2)
    assert table["binning"].tolist() == ["pooled", "per_gender"]
    assert table["source"].tolist() == ["configured", "recut"]
    by = table.set_index("binning")
    # with pooled bins the female neuron is also a high-pitch neuron; with per-gender bins not
    assert by.loc["pooled", "n_gender"] >= 1 and by.loc["per_gender", "n_gender"] >= 1
    assert by.loc["pooled", "overlap_gender_pitch"] >= 1 and by.loc["per_gender", "overlap_gender_pitch"] == 0
    assert by.loc["pooled", "share_F_bin_1"] == 1.0 and abs(by.loc["per_gender", "share_F_bin_1"] - 0.5) < 0.05
