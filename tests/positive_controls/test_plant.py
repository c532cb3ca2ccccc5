"""Planted models (speechneurons.model.plant): the planted units fire on their group's frames,
the null twin's on speaker groups that are no gender."""

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.model.ffn import capture_ffn
from speechneurons.model.forward import encode, front_end, pad
from speechneurons.model.plant import (
    PlantSettings,
    choose_units,
    group_masks,
    layer_groups,
    overlap_groups,
    plant_model_,
    planted_layers,
    unit_directions,
)
from speechneurons.model.registry import load_model, model_class
from speechneurons.phones import PHONE_TYPES
from tests.helpers.models import tiny_config

PHONES = ["aa", "iy", "b", "d", "s", "t"]


def _corpus(n_speakers=4, n_utts=2, seconds=0.5, sr=16000):
    """Waves (a speaker's tone: F high, M low) and a dump-like index of every 2nd frame."""
    rng = np.random.default_rng(0)
    waves, rows = {}, []
    t = np.arange(int(seconds * sr)) / sr
    for s in range(n_speakers):
        gender = "F" if s % 2 == 0 else "M"
        f0 = (220.0 if gender == "F" else 110.0) * (1 + 0.05 * s)
        for u in range(n_utts):
            utt = f"s{s}-{u}"
            waves[utt] = (0.5 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
            for k, frame in enumerate(range(0, 24, 2)):
                rows.append({"utt_id": utt, "frame": frame, "speaker": f"s{s}", "gender": gender,
                             "phone": PHONES[k % len(PHONES)], "pitch_bin": int(gender == "F")})  # fmt: skip
    return waves, pd.DataFrame(rows)


@pytest.fixture
def loaded(tmp_path):
    torch.manual_seed(0)
    model = model_class("hubert")(tiny_config("hubert", layers=3, ffn=64))
    model.save_pretrained(tmp_path / "m")
    return load_model(str(tmp_path / "m"), device="cpu")


def _activations(loaded, waves, index, layer):
    out = []
    with torch.inference_mode(), capture_ffn(loaded.model, [layer]) as h:
        for utt, rows in index.groupby("utt_id", sort=False):
            encode(loaded, pad([0], [front_end(loaded, waves[utt])]))
            out.append(h[layer][0, torch.as_tensor(rows["frame"].to_numpy().copy())].numpy())
    return np.concatenate(out)


def test_planted_layers_default_to_the_ends():
    assert planted_layers([], 6) == [1, 6]
    assert planted_layers([2], 6) == [2]
    with pytest.raises(ValueError, match="do not exist"):
        planted_layers([7], 6)


def test_direction_separates_a_group():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 8))
    m = np.arange(400) < 200
    x[m, 3] += 2.0
    w, b, u = unit_directions(x, {"g": m}, gain=4.0)["g"]
    pre = x @ w + b
    assert pre[m].mean() > 2 and pre[~m].mean() < -2  # positive on the group, negative elsewhere
    assert abs(np.linalg.norm(u) - 1) < 1e-9 and np.argmax(np.abs(u)) == 3


def test_null_groups_are_keyed_to_speakers_not_gender():
    _, index = _corpus(n_speakers=8)
    masks = group_masks(index, "null", n_pitch_bins=2, seed=0)
    assert len(masks) == len(group_masks(index, "property", n_pitch_bins=2, seed=0))
    for m in masks.values():
        # a group is a set of whole speakers, never all of one gender
        spk = set(index.loc[m, "speaker"])
        assert set(index.loc[index["speaker"].isin(spk), "speaker"]) == spk
        assert not (m.any() and set(index.loc[m, "gender"]) == {"F"} and m.sum() == (index["gender"] == "F").sum())


def test_utterance_null_groups_hold_every_speaker_and_whole_utterances():
    _, index = _corpus(n_speakers=4, n_utts=14)
    masks = group_masks(index, "utterance_null", n_pitch_bins=2, seed=0)
    assert len(masks) == len(group_masks(index, "property", n_pitch_bins=2, seed=0)) == 7
    assert np.sum(list(masks.values()), axis=0).tolist() == [1] * len(index)  # every frame in one group
    for m in masks.values():
        # whole utterances, two of each of the 4 speakers (14 dealt into 7 groups): both genders
        # and both pitch bins in the corpus's proportions
        utts = set(index.loc[m, "utt_id"])
        assert index.loc[index["utt_id"].isin(utts)].index.equals(index.index[m])
        assert index.loc[m].groupby("speaker")["utt_id"].nunique().tolist() == [2, 2, 2, 2]
        assert index.loc[m, "pitch_bin"].mean() == index["pitch_bin"].mean()
    assert group_masks(index, "utterance_null", 2, seed=1)["utterances-0"].tolist() != masks["utterances-0"].tolist()


def test_choose_units_distinct_and_bounded():
    units = choose_units(20, ["a", "b"], 3, np.random.default_rng(0))
    flat = units["a"] + units["b"]
    assert len(set(flat)) == 6
    with pytest.raises(ValueError, match="do not fit"):
        choose_units(5, ["a", "b"], 3, np.random.default_rng(0))


def test_planted_gender_units_fire_on_their_gender(loaded):
    waves, index = _corpus()
    settings = PlantSettings(signal="property", units_per_group=2, layers=(), gain=12.0, write_scale=0.5,
                             max_utterances=0, overlap_units=0)  # fmt: skip
    planted = plant_model_(loaded, waves, index, settings, n_pitch_bins=2, seed=0)
    assert sorted(planted) == [1, 3]
    female = (index["gender"] == "F").to_numpy()
    for layer in (1, 3):
        h = _activations(loaded, waves, index, layer)
        for g, rows in (("gender-F", female), ("gender-M", ~female)):
            units = planted[layer][g]
            assert h[rows][:, units].mean() > h[~rows][:, units].mean() + 1.0


def _three_voices(n_utts=3, seconds=0.5, sr=16000):
    """Three voices, one pitch bin each (of 3): F high (bin 2), F middle (bin 1), M low (bin 0)."""
    rng = np.random.default_rng(1)
    waves, rows = {}, []
    t = np.arange(int(seconds * sr)) / sr
    for s, (gender, f0, b) in enumerate((("F", 260.0, 2), ("F", 170.0, 1), ("M", 100.0, 0))):
        for u in range(n_utts):
            utt = f"s{s}-{u}"
            waves[utt] = (0.5 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
            for k, frame in enumerate(range(0, 24, 2)):
                rows.append({"utt_id": utt, "frame": frame, "speaker": f"s{s}", "gender": gender,
                             "phone": PHONES[k % len(PHONES)], "pitch_bin": b})  # fmt: skip
    return waves, pd.DataFrame(rows)


def test_overlap_groups_are_a_gender_in_its_pitch_bin_plus_its_unvoiced_frames():
    index = pd.DataFrame({"speaker": list("aabbcc"), "utt_id": list("aabbcc"), "phone": ["aa", "s"] * 3,
                          "gender": list("FFFFMM"), "pitch_bin": [2, None, 1, None, 0, None]})  # fmt: skip
    assert list(overlap_groups(3)) == ["gender-F&pitch-2", "gender-M&pitch-0"]
    masks = group_masks(index, "property", n_pitch_bins=3, seed=0, overlap=True)
    assert list(masks)[-2:] == list(overlap_groups(3))  # the overlap groups come last
    # F in the top bin and F's unvoiced frames; not F in the middle bin
    assert masks["gender-F&pitch-2"].tolist() == [True, True, False, True, False, False]
    assert masks["gender-M&pitch-0"].tolist() == [False, False, False, False, True, True]
    plain = group_masks(index, "property", n_pitch_bins=3, seed=0)
    assert len(masks) == len(plain) + 2
    # the first layer plants the overlap groups in place of the pitch bins'; a null twin has as
    # many groups as the larger layer plants, dealt exactly as without the overlap groups
    first, later = layer_groups(3, overlap=True)
    assert first == ["gender-F", "gender-M", *(f"phone_type-{t}" for t in PHONE_TYPES), *overlap_groups(3)]
    assert later == list(plain) == layer_groups(3, overlap=False)[0]
    for signal in ("null", "utterance_null"):
        null = group_masks(index, signal, 3, seed=0, overlap=True)
        assert len(null) == len(later) == 8
        assert all((null[g] == m).all() for g, m in group_masks(index, signal, 3, seed=0).items())


def test_choose_units_takes_a_count_per_group():
    units = choose_units(30, ["a", "b", "c"], {"a": 2, "b": 2, "c": 5}, np.random.default_rng(0))
    assert [len(units[g]) for g in "abc"] == [2, 2, 5]
    assert len({u for us in units.values() for u in us}) == 9
    # equal counts draw exactly what one count for all draws
    assert choose_units(30, ["a", "b"], {"a": 3, "b": 3}, np.random.default_rng(4)) == choose_units(
        30, ["a", "b"], 3, np.random.default_rng(4)
    )


def test_overlap_units_replace_the_pitch_units_of_the_first_layer_and_fire_on_their_gender_in_its_bin(loaded):
    waves, index = _three_voices()
    settings = PlantSettings(signal="property", units_per_group=2, layers=(), gain=12.0, write_scale=0.5,
                             max_utterances=0, overlap_units=3)  # fmt: skip
    planted = plant_model_(loaded, waves, index, settings, n_pitch_bins=3, seed=0)
    overlap = list(overlap_groups(3))
    assert [len(planted[1][g]) for g in overlap] == [3, 3]
    assert not set(overlap) & set(planted[3])  # the first planted layer only
    # there they take the place of the pitch-bin groups; the last layer has those
    assert not [g for g in planted[1] if g.startswith("pitch-")]
    assert [g for g in planted[3] if g.startswith("pitch-")] == ["pitch-0", "pitch-1", "pitch-2"]
    assert len({u for us in planted[1].values() for u in us}) == sum(len(us) for us in planted[1].values())
    h = _activations(loaded, waves, index, 1)[:, planted[1]["gender-F&pitch-2"]].mean(axis=1)
    high_f, mid_f = (index["speaker"] == "s0").to_numpy(), (index["speaker"] == "s1").to_numpy()
    # the F-and-top-bin units fire on the high female voice, not on the other female voice
    assert h[high_f].mean() > h[mid_f].mean() + 1.0
    assert h[high_f].mean() > h[~high_f & ~mid_f].mean() + 1.0


def test_the_null_twin_plants_as_many_units_per_layer_as_the_property_signal(loaded):
    waves, index = _three_voices(n_utts=10)  # each voice's utterances fill the 10 utterance groups
    sizes = {}
    for signal in ("property", "null", "utterance_null"):
        settings = PlantSettings(signal=signal, units_per_group=2, layers=(), gain=12.0, write_scale=0.5,
                                 max_utterances=0, overlap_units=3)  # fmt: skip
        planted = plant_model_(loaded, waves, index, settings, n_pitch_bins=3, seed=0)
        sizes[signal] = {layer: sorted(len(u) for u in groups.values()) for layer, groups in planted.items()}
    assert sizes["property"] == {1: [2] * 5 + [3, 3], 3: [2] * 8}
    assert sizes["utterance_null"] == sizes["property"]
