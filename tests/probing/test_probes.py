"""Probes on frozen features, frame selection, layer choice and bootstrap intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.phones import PHONES
from speechneurons.probing.features import (
    Features,
    FrameSettings,
    Variant,
    extract_features,
    load_features,
    probe_frames,
    save_features,
)
from speechneurons.probing.probes import ProbeSettings, best_layers, resolve_layers, run_probes
from speechneurons.probing.scoring import compare
from tests.helpers.config import default_settings


def probe_settings(**overrides):
    """Probe settings of the schema defaults (seed 0) with ``overrides``."""
    return default_settings(ProbeSettings, "probes", **{"seed": 0, **overrides})


def frame_settings(**overrides):
    """Which frames are probed: the schema defaults (seed 0) with ``overrides``."""
    return default_settings(FrameSettings, "probes", **{"seed": 0, **overrides})


def _corpus(n_spk=6, n_utt=6, n_frames=40, seed=0):
    """Manifest, labels and pitch of a made-up corpus (half F, half M; 2 test utts/speaker)."""
    rng = np.random.default_rng(seed)
    man, lab, pit = [], [], []
    phones = list(PHONES[:6]) + ["sil"]
    for s in range(n_spk):
        gender = "F" if s % 2 == 0 else "M"
        base_f0 = 200.0 if gender == "F" else 110.0
        for u in range(n_utt):
            utt = f"s{s}_u{u}"
            man.append(
                dict(
                    utt_id=utt,
                    audio_path=f"{utt}.wav",
                    speaker=f"s{s}",
                    gender=gender,
                    split="test" if u < 2 else "train",
                )
            )
            for t in range(n_frames):
                ph = phones[rng.integers(len(phones))]
                voiced = ph != "sil" and rng.random() < 0.8
                lab.append(dict(utt_id=utt, frame=t, phone=ph, word="w", is_mid=False))
                pit.append(
                    dict(
                        utt_id=utt,
                        frame=t,
                        f0_hz=base_f0 * np.exp(rng.normal(0, 0.1)) if voiced else 0.0,
                        voiced=voiced,
                        pitch_bin=int(rng.integers(3)) if voiced else -1,
                    )
                )
    return pd.DataFrame(man), pd.DataFrame(lab), pd.DataFrame(pit)


def _easy_features(frames, utts, dim=16, noise=0.3, seed=0):
    """Features that encode phone, log F0, speaker and gender linearly (plus noise)."""
    rng = np.random.default_rng(seed)
    ph_codes = {p: rng.normal(size=dim) for p in frames["phone"].unique()}
    spk_codes = {s: rng.normal(size=dim) for s in utts["speaker"].unique()}
    f0 = np.log(np.where(frames["f0_hz"] > 0, frames["f0_hz"], 100.0))
    x = np.stack([ph_codes[p] for p in frames["phone"]]) + noise * rng.normal(size=(len(frames), dim))
    x[:, 0] = (f0 - 5) * 5 + 0.05 * rng.normal(size=len(frames))
    xu = np.stack([spk_codes[s] for s in utts["speaker"]]) + noise * rng.normal(size=(len(utts), dim))
    xu[:, 1] = np.where(utts["gender"] == "F", 2.0, -2.0)
    return Features(frames=frames, utts=utts, frame_feats={3: x.astype(np.float16)}, utt_feats={3: xu})


def test_probe_frames_caps_per_split_and_is_seeded():
    man, lab, pit = _corpus()
    s = frame_settings(max_frames_train=100, max_frames_test=50, seed=1)
    a = probe_frames(man, lab, pit, s)
    b = probe_frames(man, lab, pit, s)
    pd.testing.assert_frame_equal(a, b)
    for task in ("phone", "f0"):
        assert (a[a[f"use_{task}"]]["split"] == "train").sum() == 100
        assert (a[a[f"use_{task}"]]["split"] == "test").sum() == 50
    assert a[a["use_phone"]]["phone"].isin(PHONES).all()
    assert (a[a["use_f0"]]["f0_hz"] > 0).all()
    c = probe_frames(man, lab, pit, frame_settings(max_frames_train=100, max_frames_test=50, seed=2))
    assert not a[["utt_id", "frame"]].equals(c[["utt_id", "frame"]])


@pytest.mark.parametrize("classifier", ["ridge", "logistic"])
def test_probes_beat_chance_on_easy_synthetic_features(classifier):
    man, lab, pit = _corpus()
    s = probe_settings(classifier=classifier)
    frames = probe_frames(man, lab, pit, frame_settings(max_frames_train=2000, max_frames_test=1000))
    utts = man.sort_values("utt_id").reset_index(drop=True)
    losses = run_probes(_easy_features(frames, utts), {t: [3] for t in s.tasks}, s)
    err = losses.groupby("task")[["loss_sum", "n_items"]].sum()
    err = err["loss_sum"] / err["n_items"]
    assert err["phone"] < 0.2  # chance: 5/6 wrong
    assert err["sid"] < 0.2  # chance: 5/6 wrong
    assert err["gender"] < 0.3  # chance: 1/2; scored on speakers the probe never saw (4 training speakers)
    f0 = np.log(frames[frames["use_f0"] & (frames["split"] == "test")]["f0_hz"])
    assert err["f0"] < 0.2 * f0.var()
    # random features do not beat chance by much on phones
    rnd = _easy_features(frames, utts)
    rnd.frame_feats[3] = np.random.default_rng(5).normal(size=rnd.frame_feats[3].shape).astype(np.float16)
    l2 = run_probes(rnd, {"phone": [3]}, s)
    assert l2["loss_sum"].sum() / l2["n_items"].sum() > 0.7


def test_compare_reports_display_metrics_and_paired_deltas():
    base = pd.DataFrame(
        dict(
            task="sid",
            layer=2,
            utt_id=[f"u{i}" for i in range(20)],
            speaker="s",
            gender=["F", "M"] * 10,
            stratum="all",
            loss_sum=[0.0] * 20,
            n_items=1,
        )
    )
    var = base.copy()
    var.loc[var["gender"] == "M", "loss_sum"] = 1.0  # every M utterance now wrong
    out = compare(var, base, resamples=100, seed=0, level=0.95, kind="error", groups="every").set_index("eval_group")
    assert out.loc["gender=M", "delta"] == pytest.approx(100.0)
    assert out.loc["gender=F", "delta"] == pytest.approx(0.0)
    assert out.loc["all", "value"] == pytest.approx(50.0)
    assert out.loc["all", "metric"] == "sid_error_pct"
    disp = compare(var, base, resamples=100, seed=0, level=0.95).set_index("eval_group")
    assert disp.loc["all", "value"] == pytest.approx(50.0)
    assert disp.loc["all", "baseline"] == pytest.approx(100.0)
    assert disp.loc["all", "delta"] == pytest.approx(-50.0)
    assert disp.loc["all", "delta_ci_low"] <= -50 <= disp.loc["all", "delta_ci_high"]


def test_layer_choice():
    losses = pd.DataFrame(
        dict(task=["phone"] * 3 + ["sid"] * 3, layer=[1, 2, 3] * 2, loss_sum=[5, 2, 4, 1, 3, 3], n_items=10)
    )
    best = best_layers(losses)
    assert best == {"phone": 2, "sid": 1}
    roles = resolve_layers(["last", "best"], 3, best, ["phone", "sid", "f0"])
    assert roles == {"phone": {2: "best", 3: "last"}, "sid": {1: "best", 3: "last"}, "f0": {3: "last"}}
    assert resolve_layers(["last", "best", 3], 3, {"phone": 3}, ["phone"]) == {"phone": {3: "last+best+fixed"}}
    with pytest.raises(ValueError):
        resolve_layers([7], 3, {}, ["phone"])


def _audio_corpus(tmp_path, n_spk=2, n_utt=3, n_frames=12, bad=None):
    """The made-up corpus with real wav files (``n_frames`` model frames each) and a tiny
    random HuBERT saved and loaded like any model; ``bad`` maps utt_id -> sample count."""
    import soundfile as sf
    from transformers import HubertModel

    from speechneurons.model.registry import load_model
    from tests.helpers.models import tiny_config

    man, lab, pit = _corpus(n_spk=n_spk, n_utt=n_utt, n_frames=n_frames)
    rng = np.random.default_rng(0)
    paths = []
    for utt in man["utt_id"]:
        n = (bad or {}).get(utt, 320 * (n_frames - 1) + 400 + int(rng.integers(0, 300)))
        path = tmp_path / f"{utt}.wav"
        if n is not None:
            sf.write(path, (0.1 * rng.standard_normal(n)).astype(np.float32), 16000)
        paths.append(str(path))
    man["audio_path"] = paths
    torch.manual_seed(0)
    HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64)).save_pretrained(tmp_path / "model")
    return man, lab, pit, load_model(str(tmp_path / "model"), device="cpu")


def test_extract_features_match_forward_passes_of_every_variant(tmp_path):
    from speechneurons.model.ffn import mask_ffn

    man, lab, pit, loaded = _audio_corpus(tmp_path)
    frames = probe_frames(man, lab, pit, frame_settings(max_frames_train=20, max_frames_test=10))
    variants = [Variant("model"), Variant("masked", {1: [0, 5, 9], 2: [3]})]
    out = extract_features(loaded, man, frames, [1, 2], variants, batch_seconds=0.5, progress=False)
    feats = out["model"]
    assert feats.frame_feats[2].shape == (len(feats.frames), 32)
    assert feats.utt_feats[1].shape == (6, 32)
    for name, masks in [("model", {}), ("masked", {1: [0, 5, 9], 2: [3]})]:
        for k in (0, 3, len(feats.frames) - 1):
            row = out[name].frames.iloc[k]
            wave = torch.from_numpy(__import__("soundfile").read(man.set_index("utt_id").audio_path[row.utt_id],
                                                                 dtype="float32")[0])[None]  # fmt: skip
            with torch.no_grad(), mask_ffn(loaded.model, masks):
                hs = loaded.model(wave, output_hidden_states=True).hidden_states
            np.testing.assert_allclose(out[name].frame_feats[2][k], hs[2][0, row.frame].numpy(), rtol=1e-2, atol=1e-2)
            i = int(np.flatnonzero(out[name].utts["utt_id"] == row.utt_id)[0])
            np.testing.assert_allclose(out[name].utt_feats[1][i], hs[1][0].mean(0).numpy(), rtol=1e-5, atol=1e-5)
    assert not np.allclose(out["model"].utt_feats[2], out["masked"].utt_feats[2])


def test_features_do_not_depend_on_batching(tmp_path):
    man, lab, pit, loaded = _audio_corpus(tmp_path)
    frames = probe_frames(man, lab, pit, frame_settings())
    one = extract_features(loaded, man, frames, [2], batch_seconds=0, progress=False)["model"]
    many = extract_features(loaded, man, frames, [2], batch_seconds=100, max_pad_ratio=10, progress=False)["model"]
    np.testing.assert_allclose(one.utt_feats[2], many.utt_feats[2], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(one.frame_feats[2].astype(float), many.frame_feats[2].astype(float), atol=2e-3)


def test_variants_batched_without_their_neurons_equal_masked_passes_one_at_a_time(tmp_path):
    """The variants' fast path (batched, silenced neurons left out of fc1/fc2, layers above the
    highest asked for skipped) gives what masked passes of one utterance at a time give."""
    import contextlib

    man, lab, pit, loaded = _audio_corpus(tmp_path)
    frames = probe_frames(man, lab, pit, frame_settings())
    masks = {1: list(range(0, 64, 3)), 2: list(range(40))}
    fast = extract_features(loaded, man, frames, [1], [Variant("v", masks)], batch_seconds=100, max_pad_ratio=10,
                            progress=False)["v"]  # fmt: skip
    slow = extract_features(loaded, man, frames, [1, 2], [Variant("v", masks, lambda m: contextlib.nullcontext())],
                            batch_seconds=0, progress=False)["v"]  # fmt: skip
    assert list(fast.utt_feats) == [1]
    np.testing.assert_allclose(fast.utt_feats[1], slow.utt_feats[1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(fast.frame_feats[1].astype(float), slow.frame_feats[1].astype(float), atol=2e-3)


def test_features_round_trip_through_files(tmp_path):
    man, lab, pit, loaded = _audio_corpus(tmp_path)
    frames = probe_frames(man, lab, pit, frame_settings())
    feats = extract_features(loaded, man, frames, [1, 2], progress=False)["model"]
    save_features(feats, tmp_path / "f.npz")
    back = load_features(tmp_path / "f.npz", feats.frames, feats.utts)
    pd.testing.assert_frame_equal(back.frames, feats.frames)
    for layer in (1, 2):
        np.testing.assert_array_equal(back.frame_feats[layer], feats.frame_feats[layer])
        np.testing.assert_array_equal(back.utt_feats[layer], feats.utt_feats[layer])


def test_bad_audio_is_an_error_or_skipped_and_counted(tmp_path):
    from speechneurons.errors import BadInputError

    man, lab, pit, loaded = _audio_corpus(tmp_path, n_utt=2, n_frames=8, bad={"s1_u0": None, "s0_u1": 100})
    frames = probe_frames(man, lab, pit, frame_settings())
    with pytest.raises(BadInputError, match=r"s0_u1\.wav: audio shorter than one model frame"):
        extract_features(loaded, man, frames, [1], progress=False)
    with pytest.raises(BadInputError, match=r"s1_u0\.wav: audio file does not exist"):
        extract_features(loaded, man[man.utt_id != "s0_u1"], frames, [1], progress=False)
    feats = extract_features(loaded, man, frames, [1], on_bad_input="skip", progress=False)["model"]
    assert sorted(s["utt_id"] for s in feats.skipped) == ["s0_u1", "s1_u0"]
    assert len(feats.utts) == 2 and feats.utt_feats[1].shape[0] == 2
    assert set(feats.frames["utt_id"]) <= set(feats.utts["utt_id"])


def test_gender_is_scored_on_speakers_the_probe_never_saw():
    """Features that identify the speaker but carry no gender beyond it: a probe that saw the
    test speakers would get gender right from speaker identity alone; on unseen speakers it is
    at chance."""
    from speechneurons.probing.probes import speaker_folds

    man, lab, pit = _corpus(n_spk=8, n_utt=6)
    utts = man.sort_values("utt_id").reset_index(drop=True)
    folds = speaker_folds(utts, 4, seed=0)
    per_speaker = utts.assign(fold=folds).groupby("speaker")["fold"].nunique()
    assert (per_speaker == 1).all()  # whole speakers
    assert (utts.assign(fold=folds).groupby("fold")["gender"].nunique() == 2).all()  # both genders in each
    frames = probe_frames(man, lab, pit, frame_settings(max_frames_train=200, max_frames_test=100))
    rng = np.random.default_rng(1)
    codes = {s: rng.normal(size=16) for s in utts["speaker"].unique()}
    xu = np.stack([codes[s] for s in utts["speaker"]]) + 0.05 * rng.normal(size=(len(utts), 16))
    feats = Features(
        frames=frames, utts=utts, frame_feats={1: np.zeros((len(frames), 16), np.float16)}, utt_feats={1: xu}
    )
    losses = run_probes(feats, {"gender": [1], "sid": [1]}, probe_settings(gender_folds=4))
    err = losses.groupby("task")[["loss_sum", "n_items"]].sum()
    err = err["loss_sum"] / err["n_items"]
    assert err["sid"] < 0.05  # the features do identify the speaker
    assert err["gender"] > 0.25  # but say nothing about an unseen speaker's gender


def test_the_best_layer_is_chosen_without_test_utterances():
    from speechneurons.probing.probes import validation_features

    man, lab, pit = _corpus()
    frames = probe_frames(man, lab, pit, frame_settings(max_frames_train=2000, max_frames_test=1000))
    utts = man.sort_values("utt_id").reset_index(drop=True)
    feats = _easy_features(frames, utts)
    val = validation_features(feats, 0.25, seed=0)
    test_ids = set(utts.loc[utts["split"] == "test", "utt_id"])
    assert not set(val.utts["utt_id"]) & test_ids and not set(val.frames["utt_id"]) & test_ids
    held = val.utts[val.utts["split"] == "test"]
    assert len(held) > 0 and held.groupby("speaker").size().min() >= 1  # every speaker has validation utterances
    assert len(val.frame_feats[3]) == len(val.frames) and len(val.utt_feats[3]) == len(val.utts)


def test_variants_sharing_an_unchanged_pass_equal_each_variant_alone(tmp_path):
    """Variants that change only upper layers reuse the unchanged variant's lower layers: the
    same features as extracting each variant on its own."""
    import contextlib

    man, lab, pit, loaded = _audio_corpus(tmp_path)
    frames = probe_frames(man, lab, pit, frame_settings())
    variants = [
        Variant("upper", {2: list(range(0, 64, 2))}),
        Variant("model"),
        Variant("edit", {}, lambda m: contextlib.nullcontext(), 2),
        Variant("both", {1: [1, 2], 2: [3]}),
    ]
    together = extract_features(loaded, man, frames, [1, 2], variants, batch_seconds=100, max_pad_ratio=10,
                                progress=False)  # fmt: skip
    for v in variants:
        alone = extract_features(loaded, man, frames, [1, 2], [v], batch_seconds=100, max_pad_ratio=10,
                                 progress=False)[v.name]  # fmt: skip
        for layer in (1, 2):
            np.testing.assert_array_equal(together[v.name].utt_feats[layer], alone.utt_feats[layer])
            np.testing.assert_array_equal(together[v.name].frame_feats[layer], alone.frame_feats[layer])
    assert not np.allclose(together["upper"].utt_feats[2], together["model"].utt_feats[2])
    np.testing.assert_array_equal(together["upper"].utt_feats[1], together["model"].utt_feats[1])


def _speaker_frames(noise: float, seed: int = 0):
    """Features whose every frame is its speaker's code plus noise of sd ``noise``, and whose
    utterance means are the means of all their frames (as the extraction makes them)."""
    man, lab, pit = _corpus(n_spk=6, n_utt=6, n_frames=40)
    frames = probe_frames(man, lab, pit, frame_settings(max_frames_train=2000, max_frames_test=1000))
    utts = man.sort_values("utt_id").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    codes = {s: rng.normal(size=16) for s in utts["speaker"].unique()}
    every = lab.merge(man[["utt_id", "speaker"]], on="utt_id")
    x = np.stack([codes[s] for s in every["speaker"]]) + noise * rng.normal(size=(len(every), 16))
    means = pd.DataFrame(x).groupby(every["utt_id"].to_numpy()).mean().loc[utts["utt_id"]].to_numpy()
    row = pd.Series(np.arange(len(every)), index=pd.MultiIndex.from_frame(every[["utt_id", "frame"]]))
    picked = row.loc[list(zip(frames["utt_id"], frames["frame"], strict=True))].to_numpy()
    return Features(frames=frames, utts=utts, frame_feats={1: x[picked].astype(np.float16)}, utt_feats={1: means})


def test_sid_from_single_frames_has_room_where_utterance_means_are_at_ceiling():
    """Known answer: every frame is its speaker's code plus strong noise. Averaging an
    utterance's 40 frames removes most of the noise (utterance SID at its ceiling); a single
    frame keeps all of it (frame SID well above chance, well below the ceiling). The frame
    probe scores the phone probe's test frames, one loss per frame, summed per utterance."""
    feats = _speaker_frames(noise=3.0)
    err = {}
    for unit in ("utterance", "frame"):
        losses = run_probes(feats, {"sid": [1]}, probe_settings(sid_unit=unit))
        err[unit] = losses["loss_sum"].sum() / losses["n_items"].sum()
        items = feats.utts if unit == "utterance" else feats.frames[feats.frames["use_phone"]]
        assert losses["n_items"].sum() == (items["split"] == "test").sum()
        assert set(losses["utt_id"]) == set(feats.utts.loc[feats.utts["split"] == "test", "utt_id"])
    assert err["utterance"] < 0.05
    assert 0.15 < err["frame"] < 0.75  # chance: 5/6 wrong


def test_fixed_sid_probe_scores_what_run_probes_scores():
    """The experiments' fixed probes (one fit on the unpruned model, reused for every variant)
    give the unpruned model the same SID error as a probe trained by run_probes, per unit. The
    variants' passes cover the test utterances only, as in the control-effects job."""
    from speechneurons.experiments.control_effects import fit_fixed_probes, fixed_probe_errors

    feats = _speaker_frames(noise=3.0)
    fr, ut = feats.frames["split"] == "test", feats.utts["split"] == "test"
    test_only = Features(feats.frames[fr].reset_index(drop=True), feats.utts[ut].reset_index(drop=True),
                         {1: feats.frame_feats[1][fr.to_numpy()]}, {1: feats.utt_feats[1][ut.to_numpy()]})  # fmt: skip
    for unit in ("utterance", "frame"):
        settings = probe_settings(sid_unit=unit)
        losses = run_probes(feats, {"sid": [1]}, settings)
        fixed = fixed_probe_errors(fit_fixed_probes(feats, {"sid": [1]}, settings), {"unpruned": test_only})
        all_items = fixed[fixed["eval_group"] == "all"]
        assert all_items["n_items"].item() == losses["n_items"].sum()
        assert all_items["error"].item() == pytest.approx(100 * losses["loss_sum"].sum() / losses["n_items"].sum())
