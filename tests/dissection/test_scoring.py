import numpy as np
import pytest

from speechneurons.dissection.concepts import similarity
from speechneurons.dissection.scoring import (
    agreement,
    agreement_null,
    agreement_report,
    bootstrap_pruning,
    property_truth,
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
    rep = agreement_report(obs.reset_index(), null, level=0.95).set_index(["property", "measure"])
    null_pt = null.loc[null["property"] == "phone_type", "within"].to_numpy()
    assert rep.loc[("phone_type", "within"), "p"] == pytest.approx((1 + np.sum(null_pt >= 1.0)) / 5)
    assert rep.loc[("pitch", "top1"), "null_mean"] < 0.5  # shuffled items: the pitch neuron's top concept is lost


def test_pruning_effect_known_numbers():
    labels = np.array([0, 0, 1, 1, 2, 2])
    before = np.zeros((6, 3))
    after = {0: before.copy(), 1: before.copy()}
    after[0][labels == 0, 0] -= 2.0  # own concept drops by 2
    after[0][labels == 1, 1] -= 0.5  # concept 1 items drop by 0.5, concept 2 by 0
    after[1][labels == 1, 1] -= 1.0
    res = bootstrap_pruning(before, after, after, labels, np.arange(6), resamples=0, level=0.95, seed=0)
    tagged = res[res["arm"] == "tagged"].set_index("concept")
    assert tagged.loc[[0, 1], "dA"].tolist() == [2.0, 1.0]  # concept 2 has no tagged neuron: not pruned
    assert tagged.loc[[0, 1], "dR"].tolist() == [0.25, 0.0]
    assert tagged.loc[-1, "dA"] == 1.5 and tagged.loc[-1, "dR"] == 0.125 and tagged.loc[-1, "gap"] == 1.375
    assert (res[res["arm"] == "difference"]["gap"] == 0).all() and tagged["dA_lo"].isna().all()


def _pruned_logits(n_utts=30, per_utt=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.tile([0, 1, 2], n_utts * per_utt // 3 + 1)[: n_utts * per_utt]
    units = np.repeat([f"u{i:02d}" for i in range(n_utts)], per_utt)
    before = rng.standard_normal((len(labels), 3))
    tagged = {c: before - 1.0 * (labels == c)[:, None] * np.eye(3)[c] + 0.1 * rng.standard_normal(before.shape)
              for c in range(3)}  # fmt: skip
    control = {c: before + 0.1 * rng.standard_normal(before.shape) for c in range(3)}
    return before, tagged, control, labels, units


def test_bootstrap_pruning_intervals_cover_the_estimates():
    before, tagged, control, labels, units = _pruned_logits()
    res = bootstrap_pruning(before, tagged, control, labels, units, resamples=200, level=0.95, seed=0)
    mean = res[res["concept"] == -1].set_index("arm")
    assert mean.loc["tagged", "gap"] == pytest.approx(1.0, abs=0.1)
    assert abs(mean.loc["control", "gap"]) < 0.1
    for arm in ("tagged", "control", "difference"):
        for m in ("dA", "dR", "gap"):
            assert mean.loc[arm, f"{m}_lo"] <= mean.loc[arm, m] <= mean.loc[arm, f"{m}_hi"]
    assert mean.loc["difference", "gap_lo"] > 0.7
    assert sorted(res["concept"].unique()) == [-1, 0, 1, 2] and len(res) == 3 * 4
    with pytest.raises(ValueError, match="same concepts"):
        bootstrap_pruning(before, tagged, {0: control[0]}, labels, units, 10, 0.9, 0)


def test_bootstrap_resamples_utterances_not_items():
    """Drops shared within an utterance: resampling utterances gives wider intervals than items."""
    before, tagged, control, labels, units = _pruned_logits(n_utts=20, per_utt=9)
    shift = np.random.default_rng(1).standard_normal(20).repeat(9)  # one offset per utterance
    tagged = {c: a - shift[:, None] for c, a in tagged.items()}
    by_utt = bootstrap_pruning(before, tagged, control, labels, units, 300, 0.95, 0)
    by_item = bootstrap_pruning(before, tagged, control, labels, np.arange(len(labels)), 300, 0.95, 0)

    def width(t):
        r = t[(t["concept"] == 0) & (t["arm"] == "tagged")].iloc[0]
        return r["dA_hi"] - r["dA_lo"]

    assert width(by_utt) > 1.5 * width(by_item)
