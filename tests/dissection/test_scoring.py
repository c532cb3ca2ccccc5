import numpy as np
import pytest

from speechneurons.dissection.concepts import similarity
from speechneurons.dissection.scoring import (
    activation_rate,
    agreement,
    agreement_null,
    agreement_report,
    bootstrap_pruning,
    concept_pruning_effect,
    matched_random_neurons,
    property_truth,
    tagged_neurons,
)

NEURONS = {
    "exclusive_group_neurons": {
        "phone_type": {"vowel": [0], "voiced_consonant": [], "unvoiced_consonant": [3]},
        "gender": {"F": [1, 4], "M": []},
        "pitch": {"0": [], "1": [], "2": [2]},
    },
}


def test_property_truth_from_neurons_json():
    t = property_truth(NEURONS, 3)
    assert t.values.tolist() == [
        [0, "phone_type", "vowel", "phone_type=vowel"],
        [3, "phone_type", "unvoiced_consonant", "phone_type=unvoiced_consonant"],
        [1, "gender", "F", "gender=F"],
        [4, "gender", "F", "gender=F"],
        [2, "pitch", "2", "pitch=high"],
    ]


def test_agreement_shares_and_null():
    names = ["phone_type=vowel", "phone_type=unvoiced_consonant", "gender=F", "gender=M", "pitch=low", "pitch=high"]
    rng = np.random.default_rng(0)
    concepts = np.zeros((400, 6), dtype=np.float32)
    pt = rng.integers(0, 2, 400)
    g = rng.integers(0, 2, 400)
    p = rng.integers(0, 2, 400)
    concepts[np.arange(400), pt] = 1
    concepts[np.arange(400), 2 + g] = 1
    concepts[np.arange(400), 4 + p] = 1
    acts = 0.1 * rng.standard_normal((400, 5)).astype(np.float32)
    acts[:, 0] += pt == 0
    acts[:, 1] += g == 0
    acts[:, 2] += p == 1
    acts[:, 3] += pt == 1
    acts[:, 4] += 0.5 * (g == 1)  # labelled F by the statistic but fires on M: disagrees
    truth = property_truth(NEURONS, 3)
    obs = agreement(similarity("cos3", acts, concepts), names, truth, top_n=2).set_index("property")
    assert obs.loc["phone_type", "n"] == 2 and obs.loc["phone_type", "within"] == 1.0
    assert obs.loc["gender", "within"] == 0.5 and obs.loc["gender", "top1"] == 0.5
    assert obs.loc["pitch", "top1"] == 1.0
    null = agreement_null(acts, concepts, names, truth, "cos3", seed=0, n_permutations=4)
    assert len(null) == 12 and set(null["permutation"]) == {0, 1, 2, 3}
    rep = agreement_report(obs.reset_index(), null).set_index(["property", "measure"])
    null_pt = null.loc[null["property"] == "phone_type", "within"].to_numpy()
    assert rep.loc[("phone_type", "within"), "p"] == pytest.approx((1 + np.sum(null_pt >= 1.0)) / 5)
    assert rep.loc[("pitch", "top1"), "null_mean"] < 0.5  # shuffled items: the pitch neuron's top concept is lost


def test_activation_rate_counts_top_tau_by_magnitude():
    acts = np.array([[5.0, -6.0, 0.1, 0.0], [0.0, 1.0, -2.0, 0.5], [3.0, 0.0, 0.0, 0.2]])
    np.testing.assert_allclose(activation_rate(acts, 1), [1 / 3, 1 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(activation_rate(acts, 2, chunk=1), [2 / 3, 2 / 3, 1 / 3, 1 / 3])


def test_matched_random_neurons_follow_the_rate_bins():
    rate = np.r_[np.full(50, 0.001), np.full(50, 0.1)]  # two clear bins
    tagged = [60, 61, 62, 3]
    rng = np.random.default_rng(0)
    ctrl = matched_random_neurons(tagged, rate, 2, rng)
    assert len(ctrl) == 4 and not set(ctrl) & set(tagged)
    assert np.sum(ctrl >= 50) == 3 and np.sum(ctrl < 50) == 1
    again = matched_random_neurons(tagged, rate, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(ctrl, again)
    # a bin that runs out borrows from the nearest bin
    ctrl = matched_random_neurons(list(range(50, 90)) + [0], rate, 2, np.random.default_rng(1))
    assert len(ctrl) == 41 and np.sum(ctrl >= 50) == 10


def test_concept_pruning_effect_known_numbers():
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.zeros((6, 3))
    after = {0: before.copy(), 1: before.copy()}
    after[0][labels == 0, 0] -= 2.0  # own concept drops by 2
    after[0][labels == 1, 1] -= 0.5  # concept 1 items drop by 0.5, concept 2 by 0
    after[1][labels == 1, 1] -= 1.0
    eff = concept_pruning_effect(before, after, labels)
    assert eff.per_concept["dA"].tolist() == [2.0, 1.0]
    assert eff.per_concept["dR"].tolist() == [0.25, 0.0]
    assert eff.dA == 1.5 and eff.dR == 0.125 and eff.gap == 1.375
    assert eff.not_pruned == [2]


def test_bootstrap_pruning_intervals_cover_the_estimates():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], 40)
    before = rng.standard_normal((120, 3))
    tagged = {
        c: before - 1.0 * (labels == c)[:, None] * np.eye(3)[c] + 0.1 * rng.standard_normal((120, 3)) for c in range(3)
    }
    control = {c: before + 0.1 * rng.standard_normal((120, 3)) for c in range(3)}
    res = bootstrap_pruning(before, tagged, control, labels, n_boot=200, ci=0.95, seed=0).table.set_index("arm")
    assert res.loc["tagged", "gap"] == pytest.approx(1.0, abs=0.1)
    assert abs(res.loc["control", "gap"]) < 0.1
    for arm in ("tagged", "control", "difference"):
        assert res.loc[arm, "gap_lo"] <= res.loc[arm, "gap"] <= res.loc[arm, "gap_hi"]
    assert res.loc["difference", "gap_lo"] > 0.7
    with pytest.raises(ValueError, match="same concepts"):
        bootstrap_pruning(before, tagged, {0: control[0]}, labels, 10, 0.9, 0)


def test_tagged_neurons_by_top_concepts():
    top_index = np.array([[2, 0], [0, 2], [1, 1]])
    names = ["a", "b", "c"]
    assert tagged_neurons(top_index, names, "c").tolist() == [0]
    assert tagged_neurons(top_index, names, "c", top_n=2).tolist() == [0, 1]


def test_pruning_sets_pair_each_concept_with_a_matched_control():
    from speechneurons.dissection.scoring import pruning_sets

    top_index = np.array([[0], [0], [1], [2], [2], [2]] + [[2]] * 20)
    rate = np.linspace(0, 1, 26)
    sets = pruning_sets(top_index, ["a", "b", "c"], ["a", "b"], rate, 2, seed=0)
    tagged_a, ctrl_a = sets["a"]
    assert tagged_a.tolist() == [0, 1] and len(ctrl_a) == 2 and not set(ctrl_a) & {0, 1, 2}
    assert sets["b"][0].tolist() == [2] and len(sets["b"][1]) == 1
    again = pruning_sets(top_index, ["a", "b", "c"], ["a", "b"], rate, 2, seed=0)
    assert again["a"][1].tolist() == ctrl_a.tolist()
