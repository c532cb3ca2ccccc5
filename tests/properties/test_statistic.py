"""Property-neuron statistics on planted data with a known answer (docs/property-neurons.md)."""

import json

import numpy as np
import pandas as pd
import pytest

from speechneurons.errors import BadInputError
from speechneurons.phones import PHONE_TYPES, PHONES, VOWELS
from speechneurons.properties import statistic as pr
from speechneurons.properties import tables as pt

D = 100
TAU_FRACTION = 0.03  # k = 3


def make_index(frames_per_cell=4, phones=PHONES, extra_rows=()):
    """Every (phone, gender, pitch bin) cell with ``frames_per_cell`` middle frames."""
    rows = []
    for p in phones:
        for g in ("F", "M"):
            for b in (0, 1, 2):
                rows += [dict(phone=p, gender=g, pitch_bin=b, is_mid=True)] * frames_per_cell
    rows += list(extra_rows)
    return pd.DataFrame(rows)


def planted(index, plant, seed=0, noise=0.5):
    """Small noise everywhere; planted neurons get |a| = 10 (sign alternating) where ``plant``
    (neuron -> boolean row mask function of the index) is true and 0 elsewhere."""
    rng = np.random.default_rng(seed)
    acts = rng.uniform(-noise, noise, size=(len(index), D)).astype(np.float16)
    for j, fn in plant.items():
        rows = np.flatnonzero(fn(index))
        acts[:, j] = 0.0
        acts[rows, j] = np.where(rows % 2, 10.0, -10.0)
    return acts


def is_vowel(ix):
    return ix["phone"].isin(VOWELS).to_numpy()


PLANT = {
    0: is_vowel,  # vowel neuron
    1: lambda ix: (ix["gender"] == "F").to_numpy(),  # female neuron
    2: lambda ix: (ix["pitch_bin"] == 0).to_numpy(),  # low-pitch neuron
    3: lambda ix: ix["pitch_bin"].isin([1, 2]).to_numpy(),  # pitch 1 AND 2: property neuron of neither
}


SETTING_KEYS = ("tau_fraction", "sigma", "min_count", "splits", "selection", "fdr_q")


def compute(acts, index, **kw):
    """The statistic of layer 1 with this module's settings; ``kw`` overrides settings or passes
    compute_layer's other arguments."""
    settings = {
        "tau_fraction": TAU_FRACTION,
        "sigma": 0.8,
        "min_count": 1,
        "splits": (),
        "selection": "threshold",
        "fdr_q": 0.05,
        **{k: v for k, v in kw.items() if k in SETTING_KEYS},
    }
    rest = {"n_pitch_bins": 3} | {k: v for k, v in kw.items() if k not in SETTING_KEYS}
    return pr.compute_layer(acts, index, layer=1, settings=pr.PropertySettings(**settings), **rest)


def test_planted_neurons_give_exactly_the_known_sets():
    index = make_index()
    lp = compute(planted(index, PLANT), index)
    gn = lp.group_neurons
    assert lp.tau == 3
    # neuron 1 (female) fires in half of every phone's frames: a group neuron of every phone type
    # and pitch group; neuron 2 (pitch 0) in a third; neuron 3 in two thirds.
    assert gn["phone_type"] == {"vowel": [0, 1, 2, 3], "voiced_consonant": [1, 2, 3], "unvoiced_consonant": [1, 2, 3]}
    assert gn["gender"] == {"F": [1, 2, 3], "M": [2, 3]}
    assert gn["pitch"] == {"0": [1, 2], "1": [1, 3], "2": [1, 3]}
    assert lp.exclusive_group_neurons["phone_type"] == {"vowel": [0], "voiced_consonant": [], "unvoiced_consonant": []}
    assert lp.exclusive_group_neurons["gender"] == {"F": [1], "M": []}
    assert lp.exclusive_group_neurons["pitch"] == {"0": [2], "1": [], "2": []}
    assert lp.property_neurons == {"phone_type": [0], "gender": [1], "pitch": [2]}


def test_neuron_of_two_groups_is_group_neuron_of_both_and_property_neuron_of_neither():
    index = make_index()
    lp = compute(planted(index, {7: lambda ix: ix["pitch_bin"].isin([0, 2]).to_numpy()}), index)
    assert 7 in lp.group_neurons["pitch"]["0"] and 7 in lp.group_neurons["pitch"]["2"]
    assert 7 not in lp.group_neurons["pitch"]["1"]
    assert 7 not in lp.property_neurons["pitch"]


def test_exact_chance_activations_give_no_neurons():
    """Round-robin: every neuron is active in exactly k/D of every (phone, group) cell -> P is
    exactly chance everywhere -> S is empty -> no group or property neurons."""
    index = make_index(frames_per_cell=100)  # a multiple of D / k frames in every cell
    acts = np.zeros((len(index), D), dtype=np.float16)
    t = np.arange(len(index))[:, None]
    acts[t, (3 * t + np.arange(3)) % D] = 1.0
    lp = compute(acts, index)
    for prop in pr.PROPERTIES:
        assert all(v == [] for v in lp.group_neurons[prop].values())
        assert lp.property_neurons[prop] == []
    P = lp.P[("gender", "F")]
    assert np.allclose(P, 0.03)


def test_unstructured_noise_gives_no_gender_or_pitch_neurons():
    index = make_index(frames_per_cell=6)
    acts = np.random.default_rng(1).normal(size=(len(index), D)).astype(np.float16)
    lp = compute(acts, index)
    assert lp.property_neurons["gender"] == [] and lp.property_neurons["pitch"] == []
    assert all(v == [] for v in lp.group_neurons["gender"].values())


def test_selectivity_is_strictly_above_chance():
    A = np.array([[3, 4, 0]])
    n = np.array([100])
    assert pr.selectivity(A, n, tau=3, D=100).tolist() == [[False, True, False]]  # 3/100 is chance
    assert pr.selectivity(A, np.array([0]), tau=3, D=100).tolist() == [[False, False, False]]


def test_R_exactly_sigma_is_a_group_neuron():
    """Neuron 5 fires on 12 of the 15 vowels: R = 12/15 = 0.8 >= sigma; on 11: 11/15 < 0.8."""
    index = make_index()
    plant = {
        5: lambda ix: ix["phone"].isin(VOWELS[:12]).to_numpy(),
        6: lambda ix: ix["phone"].isin(VOWELS[:11]).to_numpy(),
    }
    lp = compute(planted(index, plant), index)
    R = lp.R[("phone_type", "vowel")]
    assert R[5] == 0.8 and 5 in lp.group_neurons["phone_type"]["vowel"]
    assert R[6] < 0.8 and 6 not in lp.group_neurons["phone_type"]["vowel"]
    lp = compute(planted(index, plant), index, sigma=12 / 15 + 1e-9)
    assert 5 not in lp.group_neurons["phone_type"]["vowel"]


def test_min_count_leaves_rare_phones_out_of_C():
    """Three vowels have 1 frame per cell (6 per phone), the rest 4 per cell. Neuron 5 fires on 11
    frequent vowels: with min_count 1, R = 11/15 (no); with min_count 7, C_vowel has 12 phones
    and R = 11/12 (yes)."""
    rare = VOWELS[12:]
    index = pd.concat([make_index(4, VOWELS[:12] + PHONES[15:]), make_index(1, rare)], ignore_index=True)
    plant = {5: lambda ix: ix["phone"].isin(VOWELS[:11]).to_numpy()}
    acts = planted(index, plant)
    lp = compute(acts, index, min_count=1)
    assert 5 not in lp.group_neurons["phone_type"]["vowel"]
    lp = compute(acts, index, min_count=7)
    assert int(lp.in_C[("phone_type", "vowel")].sum()) == 12
    assert lp.R[("phone_type", "vowel")][5] == 11 / 12
    assert 5 in lp.group_neurons["phone_type"]["vowel"]


def test_phones_without_frames_are_not_in_C_and_empty_group_has_no_neurons():
    index = make_index(4, VOWELS + PHONE_TYPES["voiced_consonant"])  # no unvoiced consonant
    lp = compute(planted(index, PLANT), index)
    assert not lp.in_C[("phone_type", "unvoiced_consonant")].any()
    assert lp.group_neurons["phone_type"]["unvoiced_consonant"] == []
    assert int(lp.in_C[("gender", "F")].sum()) == 30
    assert np.isnan(lp.P[("gender", "F")][PHONES.index("S")]).all()


def test_chunked_streaming_equals_one_shot():
    index = make_index(frames_per_cell=3)
    acts = planted(index, PLANT, noise=2.0)
    a = compute(acts, index, chunk_rows=7)
    b = compute(acts, index, chunk_rows=10**6)
    for key in a.P:
        np.testing.assert_array_equal(a.active[key], b.active[key])
        np.testing.assert_array_equal(a.frames[key], b.frames[key])
        np.testing.assert_array_equal(a.R[key], b.R[key])
    assert a.neurons_json() == b.neurons_json()


def test_counts_match_a_plain_loop():
    index = make_index(frames_per_cell=2)
    acts = planted(index, PLANT, noise=3.0)
    lp = compute(acts, index, chunk_rows=50)
    ref = np.zeros((len(PHONES), D), dtype=np.int64)
    for t in range(len(index)):
        if index["gender"][t] != "M":
            continue
        top = sorted(range(D), key=lambda j: (-abs(float(acts[t, j])), j))[:3]
        ref[PHONES.index(index["phone"][t]), top] += 1
    np.testing.assert_array_equal(lp.active[("gender", "M")], ref)


def test_tau_rounding():
    assert pr.tau_from_fraction(0.01, 3072) == 31
    assert pr.tau_from_fraction(0.01, 250) == 3  # half up, not to even
    assert pr.tau_from_fraction(0.001, 10) == 1
    assert pr.tau_from_fraction(1.0, 10) == 10


def test_labels_exclude_silence_non_mid_and_unvoiced_pitch():
    index = make_index(
        1,
        extra_rows=[
            dict(phone="sil", gender="F", pitch_bin=0, is_mid=True),
            dict(phone="spn", gender="F", pitch_bin=0, is_mid=True),
            dict(phone="AA", gender="F", pitch_bin=0, is_mid=False),
            dict(phone="AA", gender="F", pitch_bin=-1, is_mid=True),
        ],
    )
    lab = pr.frame_labels(index, 3)
    assert lab.n_used == len(PHONES) * 6 + 1
    assert (lab.phone[-4:-1] == -1).all()
    assert lab.groups["pitch"][-1] == -1 and lab.groups["gender"][-1] == 0


def test_bad_rows_error_or_skip_and_count(tmp_path):
    index = make_index(
        1,
        extra_rows=[
            dict(phone="XX", gender="F", pitch_bin=0, is_mid=True),
            dict(phone="AA", gender="?", pitch_bin=0, is_mid=True),
            dict(phone="AA", gender="F", pitch_bin=7, is_mid=True),
        ],
    )
    with pytest.raises(BadInputError, match="on_bad_input"):
        pr.frame_labels(index, 3, path="x/index_mid.parquet")
    lab = pr.frame_labels(index, 3, on_bad_input="skip")
    assert sum(lab.skipped.values()) == 3 and (lab.phone[-3:] == -1).all()
    acts = planted(index, PLANT)
    acts[0, 0] = np.nan
    clean = index.iloc[:-3]
    with pytest.raises(BadInputError, match="non-finite"):
        compute(acts[:-3], clean)
    lp = compute(acts, index, on_bad_input="skip")
    assert lp.skipped["non-finite activations"] == 1 and sum(lp.skipped.values()) == 4
    with pytest.raises(BadInputError, match="index rows"):
        compute(acts[:-1], index, on_bad_input="skip")


def test_exclusive_sets_and_venn_regions():
    assert pr.exclusive_sets({"a": [1, 2, 3], "b": [3, 4], "c": [4, 5]}) == {"a": [1, 2], "b": [], "c": [5]}
    A, B, C = {1, 2, 3, 4, 7}, {3, 4, 5, 7}, {4, 6, 7, 2}
    # Abc={1}, aBc={5}, ABc={3}, abC={6}, AbC={2}, aBC={}, ABC={4,7}
    assert pr.venn3_regions(A, B, C) == (1, 1, 1, 1, 1, 0, 2)
    assert sum(pr.venn3_regions(A, B, C)) == len(A | B | C)


def layer_paths(folder):
    """The output paths of one layer in the workflow's layout (layer-<L>/<name>)."""
    return {
        key: folder / name
        for key, name in [
            ("neurons", "neurons.json"),
            ("P", "P.npz"),
            ("R", "R.parquet"),
            ("counts", "counts.tsv"),
            ("skipped", "skipped.tsv"),
        ]
    }


def test_written_outputs_and_summary(tmp_path):
    index = make_index()
    lp = compute(planted(index, PLANT), index)
    out = tmp_path / "layer-1"
    pt.write_layer(lp, **layer_paths(out))
    doc = json.loads((out / "neurons.json").read_text())
    assert set(doc) == {
        "layer",
        "D",
        "tau",
        "sigma",
        "group_neurons",
        "exclusive_group_neurons",
        "property_neurons",
        "not_computable",
    }
    assert doc["tau"] == 3 and doc["D"] == D and doc["layer"] == 1
    assert set(doc["group_neurons"]["pitch"]) == {"0", "1", "2"}
    z = np.load(out / "P.npz")
    assert z["P__gender__F"].shape == (len(PHONES), D) and list(z["phones"]) == list(PHONES)
    R = pd.read_parquet(out / "R.parquet")
    assert len(R) == 8 * D
    row = R[(R.property == "gender") & (R.group == "F") & (R.neuron == 1)].iloc[0]
    assert row.R == 1.0 and row.group_neuron and row.exclusive and row.n_phones == 39
    summary = pt.summarize([out / "neurons.json"], [out / "counts.tsv"], (), (), 0.95)
    s = summary.iloc[0]
    assert (s.n_phone_type, s.n_gender, s.n_pitch) == (1, 1, 1)
    assert s.group_phone_type_vowel == 4 and s.exclusive_gender_F == 1
    assert s.n_frames == len(index)
    assert s.venn_100 == 1 and s.venn_111 == 0 and s.overlap_all == 0


def test_labels_of_unused_rows_are_not_checked_and_splits_filter():
    index = make_index(1, extra_rows=[dict(phone="sil", gender="?", pitch_bin=9, is_mid=True)])
    index["split"] = np.where(np.arange(len(index)) % 2, "test", "train")
    lab = pr.frame_labels(index, 3)
    assert lab.skipped == {} and lab.phone[-1] == -1
    train = pr.frame_labels(index, 3, splits=["train"])
    assert train.n_used == (index["split"].iloc[:-1] == "train").sum()
    with pytest.raises(BadInputError, match="split"):
        pr.frame_labels(index.drop(columns="split"), 3, splits=["train"])


def test_counts_from_top_neurons_equal_the_streamed_counts():
    index = make_index()
    acts = planted(index, PLANT)
    labels = pr.frame_labels(index, 3)
    groups = {p: len(g) for p, g in pr.property_groups(3).items()}
    a = pr.count_activations(acts, labels, 3, groups, chunk_rows=7)
    top = pr.top_neurons(acts, labels, 3, chunk_rows=50)
    b = pr.count_top(top, labels, groups)
    for prop in groups:
        np.testing.assert_array_equal(a.active[prop], b.active[prop])
        np.testing.assert_array_equal(a.frames[prop], b.frames[prop])


def test_permuted_labels_keep_each_utterance_mix_and_break_the_planted_neurons():
    index = make_index(frames_per_cell=4)
    # ten "utterances" per gender, each with a mix of phones and pitch bins of one speaker
    utts = (index["gender"] + np.random.default_rng(0).integers(0, 10, len(index)).astype(str)).to_numpy()
    acts = planted(index, PLANT)
    labels = pr.frame_labels(index, 3)
    null = pr.permuted_labels(labels, utts, seed=3)
    for u in np.unique(utts):
        rows = utts == u
        assert sorted(null.phone[rows]) == sorted(labels.phone[rows])  # the same phones in each utterance
        assert len(set(null.groups["gender"][rows])) == 1  # one gender per utterance

    def female_utterances(lab):
        return sorted(u for u in np.unique(utts) if lab.groups["gender"][utts == u][0] == 0)

    assert len(female_utterances(null)) == len(female_utterances(labels))  # genders shuffled across utterances
    groups = {p: len(g) for p, g in pr.property_groups(3).items()}
    real = pr.layer_properties(pr.count_top(pr.top_neurons(acts, labels, 3), labels, groups), 1, 0.8, 1, 3)
    perm = pr.layer_properties(pr.count_top(pr.top_neurons(acts, labels, 3), null, groups), 1, 0.8, 1, 3)
    assert 0 in real.property_neurons["phone_type"] and 0 not in perm.property_neurons["phone_type"]


def test_binomial_selection_keeps_planted_cells_and_controls_false_discoveries():
    index = make_index(frames_per_cell=8)
    lp = compute(planted(index, PLANT, noise=0.5), index, selection="binomial", fdr_q=0.05)
    assert lp.exclusive_group_neurons["phone_type"]["vowel"] == [0]
    assert lp.exclusive_group_neurons["gender"]["F"] == [1]
    assert lp.exclusive_group_neurons["pitch"]["0"] == [2]
    # pure noise: hardly any cell passes the test, so no neuron is selective for 80 % of phones
    noise = compute(planted(index, {}, noise=0.5), index, selection="binomial", fdr_q=0.05)
    assert sum(len(v) for v in noise.property_neurons.values()) == 0


def test_one_gender_gives_no_gender_neurons_and_says_so(tmp_path):
    """With one gender the run exited 0 reporting gender 'property neurons' (N_F minus an empty
    N_M). The property is marked not computable, with no neurons and no count in the summary."""
    index = make_index()
    index = index[index["gender"] == "F"].reset_index(drop=True)
    lp = compute(planted(index, PLANT), index)
    assert lp.group_neurons["gender"]["F"]  # the female group neurons exist ...
    assert lp.property_neurons["gender"] == []  # ... but no gender neuron can be told from them
    assert "gender" in lp.not_computable and "only group F" in lp.not_computable["gender"]
    assert "pitch" not in lp.not_computable and lp.property_neurons["pitch"] == [2]
    out = tmp_path / "layer-1"
    pt.write_layer(lp, **layer_paths(out))
    assert "gender" in json.loads((out / "neurons.json").read_text())["not_computable"]
    s = pt.summarize([out / "neurons.json"], [out / "counts.tsv"], (), (), 0.95).iloc[0]
    assert np.isnan(s.n_gender) and np.isnan(s.overlap_gender_pitch) and np.isnan(s.exclusive_gender_F)
    assert s.n_pitch == 1 and s.group_gender_F == len(lp.group_neurons["gender"]["F"])
    assert "gender neurons are not computable" in s.not_computable


def test_properties_splits_naming_no_split_of_the_dump_is_an_error():
    """properties.splits: [dev] exited 0 with zero frames and zero neurons everywhere."""
    index = make_index(1)
    index["split"] = np.where(np.arange(len(index)) % 2, "test", "train")
    with pytest.raises(BadInputError, match=r"properties.splits \['dev'\] names no split.*train, test"):
        pr.frame_labels(index, 3, splits=["dev"])
