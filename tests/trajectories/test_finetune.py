"""Reset-top-layers fine-tuning: targets, PER, reset of exactly the top n layers, CTC learning."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from speechneurons.phones import PHONES
from speechneurons.trajectories.finetune import (
    CTCPhoneModel,
    code_sequence,
    edit_distance,
    evaluate_per,
    frame_codes,
    front_end_features,
    greedy_decode,
    phone_sequence,
    phone_targets,
    reset_top_experiment,
    reset_top_layers,
    reset_top_one,
    save_ctc_model,
    train_ctc,
)
from tests.helpers.trajectories import label_table, reset_settings, tiny_model_dir, waves


def test_reference_phones_collapse_repeats_then_drop_silence():
    frames = ["sil", "AH", "AH", "T", "sil", "T", "T", "spn", "S", "S"]
    assert phone_sequence(frames) == ["AH", "T", "T", "S"]
    table = label_table({"u": [(p, "") for p in frames], "v": [("sil", "")]})
    targets = phone_targets(table)
    assert targets["u"].tolist() == [PHONES.index(p) + 1 for p in ("AH", "T", "T", "S")] and len(targets["v"]) == 0
    codes = frame_codes(table)["u"]
    assert len(codes) == len(frames) and codes[0] == 0 and codes[1] == PHONES.index("AH") + 1
    assert code_sequence(codes[2:7]).tolist() == [PHONES.index(p) + 1 for p in ("AH", "T", "T")]  # a crop


def test_edit_distance_and_greedy_decoding_of_known_sequences():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], [1, 2]) == 2 and edit_distance([1, 2], []) == 2
    assert edit_distance([1, 2, 3], [1, 3]) == 1  # PER of this utterance: 1 / 2
    frames = np.full((7, 4), -5.0)
    for t, s in enumerate([0, 2, 2, 0, 2, 3, 3]):
        frames[t, s] = 0.0
    assert greedy_decode(frames) == [2, 2, 3]


@pytest.mark.parametrize("n", [0, 1, 2])
def test_reset_reinitialises_exactly_the_top_n_layers(tmp_path, n):
    from speechneurons.model.registry import load_model

    model = load_model(str(tiny_model_dir(tmp_path / "m", layers=3, perturb=0.05)), "cpu").model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    names = reset_top_layers(model, n, seed=0)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    top = {k for k in before if any(k.startswith(f"encoder.layers.{i}.") for i in range(3 - n, 3))}
    assert changed == top == set(names)
    for k in top:
        if k.endswith("layer_norm.weight"):
            assert torch.equal(after[k], torch.ones_like(after[k]))
    again = load_model(str(tmp_path / "m"), "cpu").model
    reset_top_layers(again, n, seed=0)
    assert all(torch.equal(after[k], again.state_dict()[k]) for k in after)


def test_ctc_head_on_the_encoder_is_the_model_forward():
    from transformers import HubertModel

    from tests.helpers.models import tiny_config

    torch.manual_seed(0)
    base = HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64, conv_dim=16)).eval()
    wave = torch.randn(1, 6400)
    ctc = CTCPhoneModel(base).eval()
    with torch.no_grad():
        feats = base.feature_extractor(wave).transpose(1, 2)
        expect = torch.log_softmax(ctc.head(base(wave).last_hidden_state), -1)
        got = ctc(feats, torch.ones(feats.shape[:2], dtype=torch.bool))
    torch.testing.assert_close(got, expect)
    assert not any(p.requires_grad for p in base.feature_extractor.parameters())


def _toy(seed=0, n=16):
    rng = np.random.default_rng(seed)
    emb = rng.normal(size=(40, 16)).astype(np.float32)
    feats, codes = {}, {}
    for i in range(n):
        seq = rng.integers(0, 6, size=8)  # 0 = silence
        frames = np.repeat(seq, 4)
        feats[f"u{i}"] = torch.from_numpy(emb[frames] + 0.1 * rng.normal(size=(len(frames), 16)).astype(np.float32))
        codes[f"u{i}"] = frames
    return feats, codes


def test_ctc_fine_tuning_on_a_toy_task_lowers_the_loss_and_the_per():
    from transformers import HubertModel

    from tests.helpers.models import tiny_config

    torch.set_num_threads(1)
    torch.manual_seed(0)
    ctc = CTCPhoneModel(HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64, conv_dim=16)))
    feats, codes = _toy()
    targets = {u: code_sequence(c) for u, c in codes.items()}
    untrained = evaluate_per(ctc, feats, targets)
    s = reset_settings(steps=60, weight_decay=0.0, batch_size=4, max_crop_s=0.4)
    log = train_ctc(ctc, feats, codes, s, lr=3e-3, seed=0)  # crops of 20 of the 32 frames
    assert log["loss"].iloc[-5:].mean() < 0.3 * log["loss"].iloc[:5].mean()
    trained = evaluate_per(ctc, feats, targets)
    assert trained["edits"].sum() < 0.8 * untrained["edits"].sum()


def _tiny_experiment(tmp_path):
    """A 2-layer model, six utterances and random frame labels over four phones."""
    from speechneurons.model.registry import load_model

    torch.set_num_threads(1)
    loaded = load_model(str(tiny_model_dir(tmp_path / "m", layers=2)), "cpu")
    w = waves({f"u{i}": 4800 + 320 * i for i in range(6)})
    rng = np.random.default_rng(0)
    labels = label_table(
        {
            u: [(p, "w") for p in np.repeat(rng.choice(["AH", "T", "S", "sil"], 10), 3)[: loaded.num_frames(len(x))]]
            for u, x in w.items()
        }
    )
    return loaded, w, labels


def test_reset_top_experiment_end_to_end(tmp_path):
    loaded, w, labels = _tiny_experiment(tmp_path)
    s = reset_settings(n_reset=[0, 1], steps=3, batch_size=2, lrs=[1e-3, 3e-3], dev_fraction=0.4)
    res = reset_top_experiment(
        loaded,
        w,
        ["u0", "u1", "u2", "u5"],
        ["u3", "u4"],
        frame_codes(labels),
        s,
        seed=0,
        device="cpu",
        resamples=50,
        level=0.95,
    )
    assert res.summary["n_reset"].tolist() == [0, 1]
    assert res.summary.loc[0, "delta_vs_0"] == 0.0
    assert (res.summary["per_low"] <= res.summary["per"]).all() and (
        res.summary["per"] <= res.summary["per_high"]
    ).all()
    assert set(res.per_utterance["utt_id"]) == {"u3", "u4"} and len(res.train_log) == 2 * 2 * 3
    assert res.summary["n_train"].tolist() == [2, 2] and res.summary["n_dev"].tolist() == [2, 2]
    # one rate chosen per n, the one with the lowest dev PER, and its test PER is the reported one
    for n, rates in res.rates.groupby("n_reset"):
        chosen = rates[rates["chosen"]]
        assert len(chosen) == 1 and chosen["dev_per"].iloc[0] == rates["dev_per"].min()
        row = res.summary.set_index("n_reset").loc[n]
        assert row["lr"] == chosen["lr"].iloc[0] and row["per"] == pytest.approx(chosen["test_per"].iloc[0])


def _twin_run(tmp_path, keep_model=True):
    loaded, w, labels = _tiny_experiment(tmp_path)
    codes = frame_codes(labels)
    s = reset_settings(n_reset=[0], steps=3, batch_size=2, lrs=[1e-3, 3e-2], dev_fraction=0.4)
    run = reset_top_one(loaded, w, ["u0", "u1"], ["u2", "u5"], ["u3", "u4"], codes, 0, s, 0, "cpu", keep_model)
    return loaded, w, codes, run


def test_the_kept_fine_tuned_model_is_the_chosen_rate_and_reloads_as_a_checkpoint(tmp_path):
    import json

    from speechneurons.model.registry import load_model

    loaded, w, codes, run = _twin_run(tmp_path)
    # the kept model is the chosen rate's: it scores the test utterances exactly as reported
    feats = front_end_features(loaded, w, ["u3", "u4"])
    again = evaluate_per(run.model, feats, {u: code_sequence(codes[u]) for u in feats})
    assert again[["utt_id", "edits", "hyp_len"]].equals(run.per_utterance[["utt_id", "edits", "hyp_len"]])
    folder = tmp_path / "twin"
    save_ctc_model(run, loaded, folder, seed=0)
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "ctc_head.safetensors", "ctc.json"} <= names
    assert not any(p.name.endswith((".bin", ".tmp")) for p in tmp_path.rglob("*"))  # safetensors, no leftovers
    meta = json.loads((folder / "ctc.json").read_text())
    chosen = run.rates[run.rates["chosen"]].iloc[0]
    assert meta["n_reset"] == 0 and meta["lr"] == chosen["lr"]
    assert meta["fine_tuned_from"] in (loaded.ref, os.path.relpath(loaded.ref, folder))
    # a folder is recorded relative to the saved model, so two results folders write the same bytes
    assert not Path(meta["fine_tuned_from"]).is_absolute() or not Path(loaded.ref).exists()
    # the registry loads the folder like any checkpoint: same weights, same front-end settings
    twin = load_model(str(folder), "cpu")
    assert (twin.do_normalize, twin.grid, twin.ffn_widths) == (loaded.do_normalize, loaded.grid, loaded.ffn_widths)
    saved, kept = twin.model.state_dict(), run.model.base.state_dict()
    assert saved.keys() == kept.keys() and all(torch.equal(saved[k], kept[k]) for k in saved)
    # ... and they are fine-tuned, not the pretrained ones
    assert any(not torch.equal(saved[k], loaded.model.state_dict()[k]) for k in saved)


def test_a_run_keeps_no_model_unless_asked_and_a_failed_save_leaves_nothing(tmp_path, monkeypatch):
    loaded, _, _, run = _twin_run(tmp_path, keep_model=False)
    assert run.model is None
    with pytest.raises(ValueError, match="kept no model"):
        save_ctc_model(run, loaded, tmp_path / "twin")
    _, _, _, kept = _twin_run(tmp_path)
    # keeping the model changes none of the run's numbers (the n = 0 PER of the layer-wise study)
    assert kept.rates.equals(run.rates) and kept.per_utterance.equals(run.per_utterance)
    assert kept.train_log.equals(run.train_log)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", broken)
    with pytest.raises(OSError, match="disk full"):
        save_ctc_model(kept, loaded, tmp_path / "twin")
    assert not (tmp_path / "twin").exists() and not list(tmp_path.glob(".twin*"))
