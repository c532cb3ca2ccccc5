"""Property-neuron nulls, one property at a time (speechneurons.properties.nulls), on synthetic
activations with a known answer."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from speechneurons.phones import PHONES
from speechneurons.properties import nulls as nl
from speechneurons.properties import statistic as pr

D, TAU = 60, 3
RUN = 3  # frames per phone: labels come in runs (autocorrelated)


def corpus(n_per_gender=4, utts_per_speaker=3, phones_per_utt=20, seed=0) -> pd.DataFrame:
    """Index rows: speakers of both genders, utterances of phones in runs of RUN middle frames,
    a pitch bin per run."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in ("F", "M"):
        for s in range(n_per_gender):
            spk = f"{g}{s}"
            for u in range(utts_per_speaker):
                for phone, pitch in zip(rng.choice(PHONES, phones_per_utt), rng.integers(0, 3, phones_per_utt)):
                    rows += [dict(utt_id=f"{spk}-{u}", speaker=spk, gender=g, phone=phone, pitch_bin=int(pitch),
                                  is_mid=True)] * RUN  # fmt: skip
    return pd.DataFrame(rows)


def activations(index: pd.DataFrame, plant: dict, seed=1) -> np.ndarray:
    """Uniform noise; neuron j = 10 on the rows where plant[j](index) holds, 0 elsewhere."""
    rng = np.random.default_rng(seed)
    acts = rng.uniform(-0.5, 0.5, size=(len(index), D)).astype(np.float32)
    for j, fn in plant.items():
        rows = np.flatnonzero(fn(index))
        acts[:, j] = 0.0
        acts[rows, j] = 10.0
    return acts


def setup(index, plant):
    labels = pr.frame_labels(index, 3)
    return labels, pr.top_neurons(activations(index, plant), labels, TAU)


def gender_p(index, plant, min_count=1):
    labels, top = setup(index, plant)
    c = pr.count_top(top, labels, {"gender": 2})
    n_obs = int(nl.property_neuron_mask(c.active["gender"], c.frames["gender"], "gender", TAU, 0.8, min_count).sum())
    draws, exact = nl.gender_null(top, labels, index["speaker"].to_numpy(), 0.8, min_count, 200, 5000, 0)
    null = [len(set().union(*ex.values())) for _, ex in draws]
    return n_obs, null, exact, nl.rank_p(n_obs, null)


def utterance_level_gender_null(index, plant, n_draws=50):
    """The anti-conservative null this module replaces: gender shuffled across utterances."""
    labels, top = setup(index, plant)
    rng = np.random.default_rng(0)
    utts, code = np.unique(index["utt_id"], return_inverse=True)
    g_utt = labels.groups["gender"][np.unique(code, return_index=True)[1]]
    out = []
    for _ in range(n_draws):
        lab = pr.FrameLabels(labels.phone, {**labels.groups, "gender": rng.permutation(g_utt)[code]})
        c = pr.count_top(top, lab, {"gender": 2})
        out.append(int(nl.property_neuron_mask(c.active["gender"], c.frames["gender"], "gender", TAU, 0.8, 1).sum()))
    return out


def test_exact_speaker_relabelings_count_partitions_and_leave_out_the_observed():
    gender = np.array([0] * 7 + [1] * 7)
    draws, exact = nl.speaker_relabelings(gender, 200, 5000, 0)
    assert exact and nl.n_relabelings(14, 7) == 1716 and len(draws) == 1715
    assert (draws.sum(axis=1) == 7).all()  # balanced
    assert len({tuple(d) for d in draws}) == 1715 and tuple(gender) not in {tuple(d) for d in draws}
    assert (draws[:, 0] == 0).all()  # one of each mirrored pair
    sampled, exact = nl.speaker_relabelings(gender, 200, 1000, 3)
    assert not exact and sampled.shape == (200, 14) and (sampled.sum(axis=1) == 7).all()
    unbalanced, exact = nl.speaker_relabelings(np.array([0, 0, 0, 1, 1]), 10, 100, 0)
    assert exact and len(unbalanced) == math.comb(5, 3) - 1


def test_property_sets_match_the_full_statistic():
    index = corpus()
    plant = {1: lambda ix: (ix["gender"] == "F").to_numpy(), 2: lambda ix: (ix["pitch_bin"] == 0).to_numpy()}
    labels, top = setup(index, plant)
    n_groups = {p: len(g) for p, g in pr.property_groups(3).items()}
    counts = pr.count_top(top, labels, n_groups)
    lp = pr.layer_properties(counts, 1, 0.8, 2, 3)
    for prop in pr.PROPERTIES:
        groups, exclusive = nl.property_sets(counts.active[prop], counts.frames[prop], prop, TAU, 0.8, 2)
        assert groups == lp.group_neurons[prop] and exclusive == lp.exclusive_group_neurons[prop]


def test_speaker_level_null_rejects_planted_gender_neurons():
    index = corpus(utts_per_speaker=4, phones_per_utt=50)
    # a female and a male neuron: every frame has one of them among its top 3, so the noise
    # neurons stay below chance in both genders and the only property neurons are the planted ones
    plant = {1: lambda ix: (ix["gender"] == "F").to_numpy(), 2: lambda ix: (ix["gender"] == "M").to_numpy()}
    n_obs, null, exact, p = gender_p(index, plant)
    assert exact and len(null) == nl.n_relabelings(8, 4) - 1 == 34
    assert n_obs == 2 and max(null) == 0
    assert p == pytest.approx(1 / 35) and p < 0.05


def test_speaker_identity_alone_passes_the_speaker_null_but_fools_an_utterance_null():
    index = corpus(utts_per_speaker=8, phones_per_utt=60)
    # one neuron per speaker of each gender, no gender signal: every speaker-level relabeling
    # keeps them exclusive to one group, so the speaker null gives as many as observed
    plant = {1: lambda ix: (ix["speaker"] == "F0").to_numpy(), 2: lambda ix: (ix["speaker"] == "M1").to_numpy()}
    n_obs, null, _, p = gender_p(index, plant)
    assert n_obs >= 2
    assert p > 0.5  # nothing passes
    # an utterance-level shuffle splits a speaker's utterances over both groups: it would call
    # the speaker neurons gender neurons (the null this module replaces): its chance level is lower
    utt_null = utterance_level_gender_null(index, plant)
    assert np.mean(utt_null) < n_obs - 0.5 <= np.mean(null)


def test_circular_shift_keeps_each_utterances_labels_and_their_autocorrelation():
    index = corpus()
    labels = pr.frame_labels(index, 3)
    utts = index["utt_id"].to_numpy()
    blocks = nl.utterance_blocks(utts, labels.phone >= 0)
    rng = np.random.default_rng(0)
    for prop in ("phone_type", "pitch"):
        shifted = nl.shifted_labels(labels, prop, blocks, rng)
        x, y = labels.groups[prop], shifted.groups[prop]
        assert (x != y).any()
        for b in blocks:
            assert sorted(x[b]) == sorted(y[b])  # the utterance's label mix
            circ = lambda v: np.mean(v == np.roll(v, 1))  # noqa: E731  circular lag-1 agreement
            assert circ(x[b]) == pytest.approx(circ(y[b]))
        # the other labels are kept
        other = "pitch" if prop == "phone_type" else "phone_type"
        assert (shifted.groups[other] == labels.groups[other]).all() and (
            shifted.groups["gender"] == x * 0 + labels.groups["gender"]
        ).all()
    lag1 = lambda v: np.mean(v[1:] == v[:-1])  # noqa: E731
    shuffled = rng.permutation(labels.groups["pitch"])
    shifted = nl.shifted_labels(labels, "pitch", blocks, rng).groups["pitch"]
    assert lag1(labels.groups["pitch"]) > 0.6  # runs of RUN frames
    assert abs(lag1(shifted) - lag1(labels.groups["pitch"])) < 0.05 < abs(lag1(shuffled) - lag1(labels.groups["pitch"]))


def test_shift_null_rejects_a_planted_pitch_neuron_and_not_a_busy_one():
    index = corpus(utts_per_speaker=4, phones_per_utt=50)
    plant = {2: lambda ix: (ix["pitch_bin"] == 0).to_numpy(), 3: lambda ix: np.ones(len(ix), dtype=bool)}
    labels, top = setup(index, plant)
    draws = nl.shift_null(top, labels, index["utt_id"].to_numpy(), "pitch", 0.8, 3, 3, 30, seed=0)
    assert len(draws) == 30
    in_null = [set().union(*ex.values()) for _, ex in draws]
    assert all(2 not in s for s in in_null)  # the planted neuron loses its bin
    c = pr.count_top(top, labels, {"pitch": 3})
    observed = np.flatnonzero(nl.property_neuron_mask(c.active["pitch"], c.frames["pitch"], "pitch", TAU, 0.8, 3))
    assert 2 in observed and 3 not in observed
    again = nl.shift_null(top, labels, index["utt_id"].to_numpy(), "pitch", 0.8, 3, 3, 30, seed=0)
    assert [g for g, _ in again] == [g for g, _ in draws]  # same seed, same draws


def test_null_and_bootstrap_tables_give_chance_and_interval_columns():
    index = corpus(n_per_gender=3)
    plant = {1: lambda ix: (ix["gender"] == "F").to_numpy()}
    labels, top = setup(index, plant)
    n_groups = {p: len(g) for p, g in pr.property_groups(3).items()}
    lp = pr.layer_properties(pr.count_top(top, labels, n_groups), 1, 0.8, 1, 3)
    settings = nl.NullSettings(null_draws=20, null_exact_max=100, count_resamples=5)
    spk, utts = index["speaker"].to_numpy(), index["utt_id"].to_numpy()
    null = nl.null_sets(top, labels, utts, spk, lp.property_neurons, 0.8, 1, 3, settings, 0)
    assert set(null.sets["property"]) == set(pr.PROPERTIES)
    assert (null.sets["property"] == "gender").sum() == nl.n_relabelings(6, 3) - 1
    assert (null.sets["property"] == "pitch").sum() == 20
    assert {"seed", "property", "group", "n_group_neurons", "n_exclusive", "n_property_neurons"} <= set(null.groups)
    boot = nl.bootstrap_sets(top, labels, utts, spk, 1, 0.8, 1, 3, 5, 0)
    assert sorted(set(boot["kind"])) == ["bootstrap", "bootstrap_speaker"]
    assert (boot.loc[boot["kind"] == "bootstrap_speaker", "n_gender"] >= 1).all()
    observed = pr.set_counts(lp.property_neurons)
    cols = nl.chance_columns(pd.concat([null.sets, boot]), observed)
    assert cols["null_draws_n_gender"] == 9 and cols["null_draws_n_pitch"] == 20
    assert cols["p_n_gender"] == pytest.approx(1 / 10)
    assert cols["chance_high_n_gender"] < observed["n_gender"]
    assert cols["ci_low_n_gender"] >= 1
    # overlaps read every involved property's null: the widest range
    assert cols["chance_high_overlap_gender_pitch"] >= max(
        null.sets.loc[null.sets["property"] == p, "overlap_gender_pitch"].quantile(0.975) for p in ("gender", "pitch")
    )


def test_stratified_bootstrap_keeps_each_stratum_size():
    units = np.array(["a", "a", "b", "c", "c", "d"])
    strata = np.array(["F", "F", "F", "M", "M", "M"])
    w = nl.stratified_weights(units, strata, np.random.default_rng(0))
    assert w[0] == w[1] and w[3] == w[4]
    assert w[[0, 2]].sum() == 2 and w[[3, 5]].sum() == 2  # as many draws as units per stratum


def test_random_weights_columns_sit_beside_the_counts():
    s = pd.DataFrame({"layer": [1, 2], "n_gender": [3, 1], "n_phone_type": [50, 40], "n_pitch": [0, 2]})
    r = pd.DataFrame({"layer": [2, 1], "n_gender": [2, 2], "n_phone_type": [39, 51], "n_pitch": [1, 1],
                      "chance_high_n_gender": [3.0, 4.0]})  # fmt: skip
    out = nl.with_random_weights(s, r)
    assert out["random_n_phone_type"].tolist() == [51, 39]
    assert out["trained_minus_random_n_phone_type"].tolist() == [-1, 1]
    assert out["random_chance_high_n_gender"].tolist() == [4.0, 3.0]
    assert nl.with_random_weights(s, None).equals(s)
    assert out["random_seeds"].tolist() == [1, 1] and out["random_n_gender"].dtype.kind == "i"


def test_several_random_weight_seeds_give_their_mean_and_range():
    s = pd.DataFrame({"layer": [1, 2], "n_gender": [3, 1], "n_phone_type": [50, 40], "n_pitch": [0, 2]})
    seeds = [
        pd.DataFrame({"layer": [1, 2], "n_gender": [g, 1], "n_phone_type": [p, 40], "n_pitch": [0, 0],
                      "chance_high_n_gender": [c, 2.0]})
        for g, p, c in ((2, 51, 4.0), (4, 45, 3.0), (0, 48, 5.0))
    ]  # fmt: skip
    out = nl.with_random_weights(s, seeds).set_index("layer")
    assert out.loc[1, "random_n_phone_type"] == 48 and out.loc[1, "trained_minus_random_n_phone_type"] == 2
    assert (out.loc[1, "random_low_n_phone_type"], out.loc[1, "random_high_n_phone_type"]) == (45, 51)
    assert out.loc[1, "random_n_gender"] == 2 and out.loc[1, "random_chance_high_n_gender"] == 5.0
    assert (out["random_seeds"] == 3).all()
    mean = nl.random_mean(seeds).set_index("layer")
    assert mean.loc[1, "n_phone_type"] == 48 and mean.loc[1, "random_seeds"] == 3
    assert nl.random_mean([]) is None and nl.random_mean(seeds[0])["random_seeds"].eq(1).all()

    from speechneurons.findings.counts import count_controls
    from speechneurons.study import is_random, random_checkpoints, random_seed_offset

    table = count_controls(out.reset_index()).set_index(["property", "layer"])
    assert table.loc[("phone type", 1), "random weights"] == "48.0 (45–51, 3 seeds)"
    assert table.loc[("phone type", 1), "trained − random"] == "2.0"
    assert random_checkpoints(3) == ["random", "random-2", "random-3"] and random_checkpoints(1) == ["random"]
    assert [random_seed_offset(c) for c in random_checkpoints(3)] == [0, 1, 2]
    assert is_random("random-2") and not is_random("final") and not is_random("randomx")
    with pytest.raises(ValueError, match="not a random-weights checkpoint"):
        random_seed_offset("step-3")


def test_rank_p():
    assert nl.rank_p(5, [1, 2, 3]) == pytest.approx(0.25)
    assert nl.rank_p(1, [1, 2, 3]) == pytest.approx(1.0)
    assert math.isnan(nl.rank_p(1, []))
