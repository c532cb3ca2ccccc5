"""Views: segments of a hand-made label table, pooling, one-hot labels, log-Mel grid, forward."""

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.frames import FrameGrid
from speechneurons.phones import PHONES
from speechneurons.trajectories.features import (
    cap_per_label,
    choose_utterances,
    extract_views,
    log_mel,
    one_hot,
    phone_segments,
    plan_views,
    segment_means,
    word_segments,
    word_vocabulary,
)
from tests.helpers.trajectories import label_table, random_label_table, tiny_model_dir, waves

# "bus stop" with a repeated S across the word boundary, a silence, then "<unk>" as spoken noise
HAND = label_table(
    {
        "u1": [
            ("sil", ""),
            ("B", "bus"),
            ("AH", "bus"),
            ("AH", "bus"),
            ("S", "bus"),
            ("S", "stop"),
            ("T", "stop"),
            ("AA", "stop"),
            ("P", "stop"),
            ("sil", ""),
            ("spn", "<unk>"),
            ("spn", "<unk>"),
        ],
        "u0": [("DH", "the"), ("AH", "the"), ("sil", ""), ("DH", "the"), ("AH", "the")],
    }
)


def _tuples(df):
    return [tuple(r) for r in df[["utt_id", "start", "end", "label"]].itertuples(index=False)]


def test_phone_segments_of_a_hand_made_table():
    assert _tuples(phone_segments(HAND)) == [
        ("u0", 0, 1, "DH"),
        ("u0", 1, 2, "AH"),
        ("u0", 3, 4, "DH"),
        ("u0", 4, 5, "AH"),
        ("u1", 1, 2, "B"),
        ("u1", 2, 4, "AH"),
        ("u1", 4, 5, "S"),
        ("u1", 5, 6, "S"),
        ("u1", 6, 7, "T"),
        ("u1", 7, 8, "AA"),
        ("u1", 8, 9, "P"),
    ]


def test_word_segments_of_a_hand_made_table():
    # the silence splits the two "the"; "<unk>" has no speech phone and is left out
    assert _tuples(word_segments(HAND)) == [
        ("u0", 0, 2, "the"),
        ("u0", 3, 5, "the"),
        ("u1", 1, 5, "bus"),
        ("u1", 5, 9, "stop"),
    ]


def test_segment_means_pool_exactly_the_segment_frames():
    x = np.arange(24, dtype=np.float32).reshape(12, 2)
    out = segment_means(x, np.array([2, 5, 0]), np.array([4, 9, 1]))
    np.testing.assert_allclose(out, [x[2:4].mean(0), x[5:9].mean(0), x[0]])
    with pytest.raises(ValueError):
        segment_means(x, np.array([3]), np.array([3]))


def test_vocabulary_one_hot_and_caps():
    segs = pd.DataFrame(
        {"utt_id": "u", "start": range(9), "end": range(1, 10), "label": ["b", "a", "b", "c", "a", "d", "b", "c", "e"]}
    )
    assert word_vocabulary(segs, 3, 1) == ("b", "a", "c")  # count, then alphabetical
    assert word_vocabulary(segs, 10, 2) == ("b", "a", "c")
    oh = one_hot(["a", "c", "a"], ("b", "a", "c"))
    np.testing.assert_array_equal(oh, [[0, 1, 0], [0, 0, 1], [0, 1, 0]])
    with pytest.raises(ValueError):
        one_hot(["z"], ("a",))
    capped = cap_per_label(segs, 2, seed=0)
    assert capped["label"].value_counts().max() == 2 and len(capped) == 8
    assert capped.equals(cap_per_label(segs, 2, seed=0))


def test_log_mel_frames_lie_on_the_model_grid():
    grid = FrameGrid()
    for n in (399, 400, 719, 720, 16000, 16123):
        assert log_mel(np.zeros(n, np.float32), grid, 80).shape == (grid.num_frames(n), 80)
    wave = np.zeros(16000, np.float32)
    t = np.arange(400)
    wave[3200:3600] = 0.5 * np.sin(2 * np.pi * 1000 * t / 16000)  # exactly frame 10's window
    energy = log_mel(wave, grid, 80).max(axis=1)
    assert int(np.argmax(energy)) == 10
    assert energy[:9].max() < energy[10] - 20 and energy[12:].max() < energy[10] - 20  # frames 9, 11 overlap it


def test_plan_is_seeded_sorted_and_bounded():
    labels = random_label_table({"b": 120, "a": 90, "c": 60})
    kw = dict(max_frames=100, max_per_phone=5, word_vocabulary_size=2, word_min_count=1, max_per_word=3, seed=3)
    plan = plan_views(labels, ["b", "a"], **kw)
    assert plan.utt_ids == ("a", "b") and len(plan.frames) == 100
    assert set(plan.frames["utt_id"]) <= {"a", "b"}
    assert plan.phone_segments["label"].value_counts().max() <= 5
    assert set(plan.word_segments["label"]) <= set(plan.words) and len(plan.words) == 2
    again = plan_views(labels, ["a", "b"], **kw)
    assert plan.frames.equals(again.frames) and plan.word_segments.equals(again.word_segments)
    manifest = pd.DataFrame({"utt_id": ["a", "b", "c"], "split": ["train", "test", "train"]})
    assert choose_utterances(manifest, ["train"], 5) == ("a", "c")
    assert len(choose_utterances(manifest, ["train", "test"], 2, seed=1)) == 2


def test_views_are_the_hidden_states_at_the_sampled_frames_and_segments(tmp_path):
    from speechneurons.model.registry import load_model

    torch.set_num_threads(1)
    loaded = load_model(str(tiny_model_dir(tmp_path / "m", layers=2)), "cpu")
    w = waves({"a": 8000, "b": 6400})
    labels = random_label_table({u: loaded.grid.num_frames(len(x)) for u, x in w.items()})
    plan = plan_views(
        labels, list(w), max_frames=30, max_per_phone=50, word_vocabulary_size=5, word_min_count=1, max_per_word=50
    )
    views = extract_views(loaded, w, plan, n_mels=40)
    assert views.layers == (0, 1, 2)
    assert views.reference["mel"].shape == (30, 40) and views.reference["phone"].shape[1] == len(PHONES)
    with torch.no_grad():  # a plain full forward pass of the model on one utterance
        values, _ = loaded.prepare_batch([w["a"]])
        out = loaded.model(values, output_hidden_states=True)
        cnn = loaded.model.feature_extractor(values)[0].T.numpy()
    rows = np.flatnonzero(plan.frames["utt_id"] == "a")
    frames = plan.frames["frame"].to_numpy()[rows]
    np.testing.assert_allclose(views.frames[2][rows], out.hidden_states[2][0].numpy()[frames], atol=1e-5)
    np.testing.assert_allclose(views.reference["frontend"][rows], cnn[frames], atol=1e-5)
    seg = plan.phone_segments.iloc[0]
    assert seg["utt_id"] == "a"
    expect = out.hidden_states[1][0].numpy()[seg["start"] : seg["end"]].mean(0)
    np.testing.assert_allclose(views.phone_means[1][0], expect, atol=1e-5)
    np.testing.assert_array_equal(views.reference["word"].sum(1), 1)


def test_views_do_not_depend_on_batching_and_a_log_mel_front_end_is_its_own_frontend_view(tmp_path):
    from speechneurons.model.registry import load_model

    torch.set_num_threads(1)
    loaded = load_model(str(tiny_model_dir(tmp_path / "m", layers=2, model_type="melhubert")), "cpu")
    w = waves({"a": 8000, "b": 6400, "c": 4000})
    labels = random_label_table({u: loaded.grid.num_frames(len(x)) for u, x in w.items()})
    plan = plan_views(
        labels, list(w), max_frames=40, max_per_phone=50, word_vocabulary_size=5, word_min_count=1, max_per_word=50
    )
    one = extract_views(loaded, w, plan, views=("frontend", "phone"), batch_seconds=0)  # batches of one
    batched = extract_views(loaded, w, plan, views=("frontend", "phone"), batch_seconds=60, max_pad_ratio=3.0)
    for layer in one.layers:
        np.testing.assert_allclose(one.frames[layer], batched.frames[layer], atol=1e-5)
        np.testing.assert_allclose(one.phone_means[layer], batched.phone_means[layer], atol=1e-5)
    assert one.reference["frontend"].shape == (40, 16)  # n_mels of the tiny log-Mel front-end
    rows = np.flatnonzero(plan.frames["utt_id"] == "b")
    with torch.no_grad():
        mel = loaded.model.feature_extractor(torch.from_numpy(w["b"])[None])[0].T.numpy()
    np.testing.assert_allclose(one.reference["frontend"][rows], mel[plan.frames["frame"].to_numpy()[rows]], atol=1e-5)
