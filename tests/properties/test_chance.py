"""Chance levels and sensitivity of the property-neuron counts, on planted data."""

from __future__ import annotations

import numpy as np

from speechneurons.properties import chance as ch
from speechneurons.properties import statistic as pr
from tests.properties.test_statistic import PLANT, make_index, planted


def _setup(frames_per_cell=4):
    index = make_index(frames_per_cell=frames_per_cell)
    utts = (index["gender"] + np.random.default_rng(0).integers(0, 12, len(index)).astype(str)).to_numpy()
    acts = planted(index, PLANT)
    labels = pr.frame_labels(index)
    return index, utts, labels, pr.top_neurons(acts, labels, 3)


def test_null_counts_lose_the_planted_neurons():
    index, utts, labels, top = _setup()
    null = ch.null_counts(top, labels, utts, layer=1, sigma=0.8, min_count=1, n_pitch_bins=3, seeds=[0, 1, 2])
    assert list(null.columns) == ch.NULL_COLUMNS and set(null["seed"]) == {0, 1, 2}
    real = ch.min_count_sensitivity(top, labels, 1, 0.8, [1], 3)
    gender_real = real[(real.property == "gender")]["n_property_neurons"].iloc[0]
    gender_null = null[null.property == "gender"].groupby("seed")["n_property_neurons"].first()
    assert gender_real >= 1 and (gender_null < gender_real).all()
    summary = ch.null_summary(null)
    assert set(summary["property"]) == {"phone_type", "gender", "pitch"}
    assert (summary["chance_low"] <= summary["chance_mean"]).all() and (
        summary["chance_mean"] <= summary["chance_high"]
    ).all()


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
    s = ch.silhouette_scores(pr.compute_layer(acts, index, layer=1, settings=settings))
    assert s["gender"] > 0.5
    assert abs(s["pitch"]) < 0.2  # pitch bins carry nothing here


def test_gender_pitch_table_counts_frames():
    index = make_index(frames_per_cell=2)
    table = ch.gender_pitch_table(pr.frame_labels(index), 3)
    assert table["frames_F"].tolist() == [78, 78, 78] and (table["share_F"] == 0.5).all()
