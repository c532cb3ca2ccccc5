"""The log-Mel HuBERT (speechneurons.model.melhubert): frame grid, front-end, registry, FFN sites, training."""

import numpy as np
import pytest
import torch

from speechneurons.frames import FrameGrid
from speechneurons.model import hubert as H
from speechneurons.model import pretrain as P
from speechneurons.model.ffn import capture_ffn, ffn_widths, mask_ffn, prune_ffn_
from speechneurons.model.melhubert import LogMelFrontEnd, MelHubertConfig, MelHubertModel, mel_filterbank
from speechneurons.model.registry import check_frame_grid, load_model
from tests.helpers.config import default_settings
from tests.helpers.corpus import wav_manifest

GRID = FrameGrid()
TINY = dict(
    frontend="logmel",
    n_mels=16,
    conv_dim=16,
    hidden_size=32,
    num_layers=2,
    num_heads=2,
    intermediate_size=64,
    conv_pos_kernel=16,
    conv_pos_groups=4,
    dropout=0.0,
    mask_prob=0.65,
    mask_length=10,
)


def model_settings(**kw) -> H.ModelSettings:
    return default_settings(H.ModelSettings, "pretrain", **{**TINY, **kw})


def tiny_model(seed=0, **kw) -> MelHubertModel:
    return H.build_model(model_settings(**kw), GRID, seed=seed).eval()


def chirps(n=4, seed=0) -> list[np.ndarray]:
    """Frequency-modulated tones with a little noise, 0.5-1.25 s."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        length = int(rng.integers(8000, 20000))
        t = np.arange(length) / 16000
        f = 300 + 1000 * (0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + i * 0.2) * t))
        out.append(
            (0.3 * np.sin(2 * np.pi * np.cumsum(f) / 16000) + 0.02 * rng.standard_normal(length)).astype(np.float32)
        )
    return out


def slow_targets(waves, k=5):
    """Learnable targets: the frame index in blocks of 7, shifted per utterance."""
    return [(np.arange(GRID.num_frames(len(w))) // 7 + i) % k for i, w in enumerate(waves)]


# ---------------------------------------------------------------- frame grid and front-end


def test_frame_count_equals_the_base_conv_stack_for_many_lengths():
    front = LogMelFrontEnd(MelHubertConfig(n_mels=8))
    lengths = [400, 401, 719, 720, 721, 1039, 1040, 16000, 16399, 16400] + list(
        np.random.default_rng(0).integers(400, 60000, 40)
    )
    model = tiny_model()
    for n in lengths:
        expected = GRID.num_frames(int(n))
        assert expected == (int(n) - 400) // 320 + 1
        assert front(torch.zeros(1, int(n))).shape == (1, 8, expected)
        assert int(model._get_feat_extract_output_lengths(int(n))) == expected
    assert front.num_frames(399) == 0 and GRID.num_frames(399) == 0
    with pytest.raises(ValueError, match="shorter than one frame"):
        front(torch.zeros(1, 399))


def test_same_frames_compares_receptive_field_hop_and_rate():
    mel = FrameGrid((400,), (320,))
    assert mel.same_frames_as(GRID) and mel != GRID
    assert all(mel.num_frames(n) == GRID.num_frames(n) for n in range(3000))
    assert not FrameGrid((480,), (320,)).same_frames_as(GRID)
    assert not FrameGrid((400,), (160,)).same_frames_as(GRID)
    assert not FrameGrid((400,), (320,), 8000).same_frames_as(GRID)


@pytest.mark.parametrize("stack", [1, 2])
def test_frames_are_local_so_padding_never_changes_a_real_frame(stack):
    front = LogMelFrontEnd(MelHubertConfig(n_mels=16, mel_stack=stack))
    wave = torch.from_numpy(chirps(1)[0])[None]
    alone = front(wave)
    for pad in (1, 319, 320, 4000):  # alone and as the padded row of a batch (exactly equal on this machine's CPU)
        padded = torch.cat([wave, torch.zeros(1, pad)], dim=1)
        batch = front(torch.cat([padded, torch.randn(1, padded.shape[1])]))
        torch.testing.assert_close(front(padded)[..., : alone.shape[-1]], alone, rtol=0, atol=1e-6)
        torch.testing.assert_close(batch[:1, :, : alone.shape[-1]], alone, rtol=0, atol=1e-6)
    # frame t sees samples [320 t, 320 t + 400) only
    changed = wave.clone()
    changed[0, : 320 * 5] = 0.7
    changed[0, 320 * 5 + 400 :] = -0.2
    torch.testing.assert_close(front(changed)[..., 5], alone[..., 5], rtol=0, atol=1e-6)


def test_batched_model_with_attention_mask_equals_single_utterances():
    model = tiny_model(num_layers=1)
    waves = [torch.from_numpy(w) for w in chirps(3)]
    longest = max(len(w) for w in waves)
    x = torch.stack([torch.nn.functional.pad(w, (0, longest - len(w))) for w in waves])
    mask = torch.stack([(torch.arange(longest) < len(w)).long() for w in waves])
    with torch.no_grad():
        batched = model(x, attention_mask=mask).last_hidden_state
        for i, w in enumerate(waves):
            single = model(w[None]).last_hidden_state[0]
            torch.testing.assert_close(batched[i, : len(single)], single, rtol=1e-4, atol=1e-4)


def test_a_tone_peaks_in_the_mel_band_of_its_frequency():
    cfg = MelHubertConfig(n_mels=40)
    front = LogMelFrontEnd(cfg)
    t = torch.arange(16000) / 16000
    logmel = front(torch.sin(2 * np.pi * 1000 * t)[None])[0]
    fb = mel_filterbank(512, 40, 16000, 0.0, 8000.0)
    band_of_1khz = int(np.argmax(fb[round(1000 * 512 / 16000)]))
    assert (logmel.argmax(0) == band_of_1khz).all()
    assert fb.shape == (257, 40) and fb.max() <= 1.0 and (fb.sum(0) > 0).all()


def test_stacked_sub_windows_span_exactly_one_frame():
    front = LogMelFrontEnd(MelHubertConfig(n_mels=16, mel_stack=2))
    assert (front.sub_window, front.sub_hop, front.n_fft) == (240, 160, 256)
    assert front(torch.zeros(2, 16000)).shape == (2, 32, GRID.num_frames(16000))
    with pytest.raises(ValueError, match="mel_stack"):
        MelHubertConfig(mel_stack=3)


def test_gain_does_not_change_the_projected_features():
    model = tiny_model()
    wave = torch.from_numpy(chirps(1)[0])[None]
    with torch.no_grad():
        a = model.feature_projection(model.feature_extractor(wave).transpose(1, 2))
        b = model.feature_projection(model.feature_extractor(0.25 * wave).transpose(1, 2))
    torch.testing.assert_close(a, b, rtol=1e-3, atol=1e-3)


# ---------------------------------------------------------------- registry, save / load, FFN sites


def test_build_model_front_ends_and_grid_check():
    mel = tiny_model()
    assert isinstance(mel, MelHubertModel) and mel.config.model_type == "melhubert"
    assert tuple(mel.config.conv_dim) == (16,) and mel.feature_projection.projection.in_features == 16
    wav = H.build_model(model_settings(frontend="waveform"), GRID)
    assert type(wav).__name__ == "HubertModel"
    with pytest.raises(ValueError, match="front-end"):
        H.build_model(model_settings(frontend="spectrogram"), GRID)
    with pytest.raises(ValueError, match="other frames"):
        H.check_grid(mel, FrameGrid((10, 3, 3, 3, 3, 2), (5, 2, 2, 2, 2, 2)))


def test_save_load_round_trip_is_bit_exact(tmp_path):
    model = tiny_model(seed=3)
    head = H.PretrainHead(32, 5, 16)
    H.save_checkpoint(model, head, tmp_path / "ckpt", {"step": 0})
    loaded = load_model(str(tmp_path / "ckpt"), "cpu")
    assert loaded.model_type == "melhubert" and isinstance(loaded.model, MelHubertModel)
    assert loaded.grid.same_frames_as(GRID) and not loaded.do_normalize and loaded.ffn_widths == [64, 64]
    check_frame_grid(loaded, GRID)
    again, head2, meta = H.load_checkpoint(tmp_path / "ckpt")
    assert isinstance(again, MelHubertModel) and meta["step"] == 0 and torch.equal(head2.label_embs, head.label_embs)
    x = torch.from_numpy(chirps(1, seed=5)[0])[None]
    with torch.no_grad():
        ref = model(x, output_hidden_states=True).hidden_states
        for other in (loaded.model, again.eval()):
            for a, b in zip(ref, other(x, output_hidden_states=True).hidden_states):
                assert torch.equal(a, b)


def test_ffn_capture_pruning_and_reload_of_a_pruned_model(tmp_path):
    model = tiny_model(seed=1)
    x = torch.from_numpy(chirps(1)[0])[None]
    with torch.no_grad(), capture_ffn(model) as cap:
        model(x)
    assert sorted(cap) == [1, 2] and cap[1].shape == (1, GRID.num_frames(x.shape[1]), 64)
    keep = {1: torch.arange(0, 64, 2), 2: torch.arange(40)}
    dropped = {layer: sorted(set(range(64)) - set(idx.tolist())) for layer, idx in keep.items()}
    with torch.no_grad(), mask_ffn(model, dropped):
        masked = model(x).last_hidden_state
    prune_ffn_(model, keep)
    assert ffn_widths(model) == [32, 40] and model.config.ffn_widths == [32, 40]
    with torch.no_grad():
        torch.testing.assert_close(model(x).last_hidden_state, masked, rtol=1e-5, atol=1e-5)
    model.save_pretrained(tmp_path / "pruned")
    loaded = load_model(str(tmp_path / "pruned"), "cpu")
    assert loaded.ffn_widths == [32, 40] and isinstance(loaded.model, MelHubertModel)
    with torch.no_grad():
        assert torch.equal(loaded.model(x).last_hidden_state, model(x).last_hidden_state)


# ---------------------------------------------------------------- training and scoring


def _fixed_batch_loss(model, head, waves, targets):
    model.eval()
    x, y = P.crop_batch(waves, targets, np.arange(len(waves)), GRID, 8000, np.random.default_rng(123))
    mask = torch.from_numpy(H.span_mask(y.shape[1], y.shape[0], 0.65, 10, np.random.default_rng(7)))
    with torch.no_grad():
        return H.hubert_loss(head(model(x, mask_time_indices=mask).last_hidden_state), y, mask)[0].item()


def test_a_few_training_steps_lower_the_loss():
    torch.set_num_threads(1)
    waves = chirps(4)
    targets = slow_targets(waves)
    model = tiny_model()
    torch.manual_seed(0)
    head = H.PretrainHead(32, 5, final_dim=16)
    before = _fixed_batch_loss(model, head, waves, targets)
    opts = default_settings(
        P.TrainSettings, "pretrain", batch_size=4, max_crop_s=0.5, lr=3e-3, warmup_fraction=0.1, log_every=5
    )
    log = P.train(model, head, waves, targets, GRID, opts, steps=25, seed=0, progress=False)
    assert _fixed_batch_loss(model, head, waves, targets) < before - 0.1
    assert len(log) == 5


def test_masked_prediction_accuracy_is_seeded_and_leaves_the_model_as_it_was(tmp_path):
    waves = chirps(3)
    targets = slow_targets(waves)
    model = tiny_model()
    head = H.PretrainHead(32, 5, 16)
    model.train()
    a = H.masked_prediction_accuracy(model, head, waves, targets, GRID, 0.65, 10, seed=4)
    b = H.masked_prediction_accuracy(model, head, waves, targets, GRID, 0.65, 10, seed=4)
    assert a == b and model.training and head.training
    frames = sum(GRID.num_frames(len(w)) for w in waves)
    assert a["n_masked"] + a["n_unmasked"] == frames and a["n_masked"] > 0 and 0 <= a["masked_acc"] <= 1
    # a model loaded for the dump has masking switched off; scoring switches it on and back
    H.save_checkpoint(model, head, tmp_path / "m", {"step": 0})
    loaded = load_model(str(tmp_path / "m"), "cpu").model
    c = H.masked_prediction_accuracy(loaded, head, waves, targets, GRID, 0.65, 10, seed=4)
    assert c == a and loaded.config.apply_spec_augment is False


def test_continue_pretraining_a_pruned_melhubert(tmp_path):
    from speechneurons.model.targets import targets_table

    torch.set_num_threads(1)
    waves = chirps(4)
    manifest = wav_manifest(tmp_path, waves)
    model = prune_ffn_(tiny_model(), {1: torch.arange(40)})
    before = model.encoder.layers[0].feed_forward.intermediate_dense.weight.detach().clone()
    settings = default_settings(P.TrainSettings, "pretrain", batch_size=2, max_crop_s=0.5, log_every=2)
    model, head, log = P.continue_pretraining(
        model, manifest, targets_table(manifest.utt_id, slow_targets(waves)), steps=4, settings=settings, progress=False
    )
    after = model.encoder.layers[0].feed_forward.intermediate_dense.weight
    assert head.n_clusters == 5 and len(log) == 2 and after.shape == (40, 32) and not torch.equal(before, after)
