"""HuBERT pretraining: masking, loss, batching, training, checkpoints, continued pretraining."""

import math

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.frames import FrameGrid
from speechneurons.model import hubert as H
from speechneurons.model import pretrain as P
from speechneurons.model import schedule as S
from speechneurons.model.figures import plot_curve
from tests.helpers.config import default_settings
from tests.helpers.corpus import wav_manifest

GRID = FrameGrid()
TINY = default_settings(
    H.ModelSettings,
    "pretrain",
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


def _runs(row: np.ndarray) -> list[int]:
    """Lengths of the runs of True in a boolean row."""
    padded = np.concatenate([[False], row, [False]]).astype(int)
    d = np.diff(padded)
    return list(np.flatnonzero(d == -1) - np.flatnonzero(d == 1))


def _waves(n=6, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        L = int(rng.integers(8000, 20000))
        t = np.arange(L) / 16000
        f = 300 + 1000 * (0.5 + 0.5 * np.sin(2 * np.pi * (0.5 + i * 0.2) * t))
        out.append((0.3 * np.sin(2 * np.pi * np.cumsum(f) / 16000) + 0.02 * rng.standard_normal(L)).astype(np.float32))
    return out


def _targets(waves, k=5):
    # a learnable target: a function of the local pitch track (frame index modulo pattern)
    return [(np.arange(GRID.num_frames(len(w))) // 7 + i) % k for i, w in enumerate(waves)]


# ---------------------------------------------------------------- masking


def test_span_mask_runs_are_at_least_one_span_and_cover_less_than_p():
    rng = np.random.default_rng(0)
    mask = H.span_mask(1000, 20, mask_prob=0.65, span=10, rng=rng)
    assert mask.shape == (20, 1000)
    for row in mask:
        assert min(_runs(row)) >= 10
    # k = floor(p T / span + u) starts of span frames, overlaps merged: 1 - (1 - p/span)^span
    expected = 1 - (1 - 0.65 / 10) ** 10
    assert abs(mask.mean() - expected) < 0.05


def test_span_mask_starts_match_the_formula():
    class Rec(np.random.Generator):
        pass

    rng = np.random.default_rng(1)
    # with span 1 there is no overlap: exactly floor(p T + u) frames are masked
    m = H.span_mask(100, 50, mask_prob=0.3, span=1, rng=rng)
    assert set(m.sum(1)) <= {30, 31}


def test_span_mask_short_rows_and_lengths():
    rng = np.random.default_rng(0)
    m = H.span_mask([5, 40, 0], None, mask_prob=0.65, span=10, rng=rng, min_masks=2)
    assert m.shape == (3, 40)
    assert m[0, :5].all() and not m[0, 5:].any()  # a row shorter than a span is masked whole
    assert not m[2].any()
    assert m[1].sum() >= 10


def test_span_mask_is_seeded():
    a = H.span_mask(200, 4, 0.65, 10, np.random.default_rng(3))
    b = H.span_mask(200, 4, 0.65, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- loss and head


def test_hubert_loss_known_answer_masked_only():
    logits = torch.log(torch.tensor([[[0.5, 0.25, 0.25], [0.1, 0.8, 0.1], [1 / 3, 1 / 3, 1 / 3]]]))
    targets = torch.tensor([[0, 0, -100]])
    mask = torch.tensor([[True, False, True]])
    loss, st = H.hubert_loss(logits, targets, mask)
    assert loss.item() == pytest.approx(-math.log(0.5), rel=1e-5)  # only frame 0 is masked and valid
    assert st["n_masked"] == 1 and st["n_correct"] == 1
    loss_u, _ = H.hubert_loss(logits, targets, mask, unmasked_weight=0.5)
    assert loss_u.item() == pytest.approx(-math.log(0.5) - 0.5 * math.log(0.1), rel=1e-5)


def test_head_logits_are_scaled_cosines():
    head = H.PretrainHead(8, 5, final_dim=4, temperature=0.1)
    h = torch.randn(2, 3, 8)
    logits = head(h)
    o = head.proj(h)
    cos = torch.nn.functional.cosine_similarity(o[..., None, :], head.label_embs[None, None], dim=-1)
    torch.testing.assert_close(logits, cos / 0.1, rtol=1e-4, atol=1e-4)
    assert logits.abs().max() <= 10 + 1e-4


def test_lr_schedule_known_values():
    assert P.lr_factor(0, 100, 0.1) == pytest.approx(0.1)
    assert P.lr_factor(9, 100, 0.1) == pytest.approx(1.0)
    assert P.lr_factor(55, 100, 0.1) == pytest.approx(0.5)
    assert P.lr_factor(55, 100, 0.1, "cosine") == pytest.approx(0.5)
    assert P.lr_factor(100, 100, 0.1) == pytest.approx(0.0)


# ---------------------------------------------------------------- batching


def test_crop_batch_keeps_frames_aligned_with_targets():
    waves = [np.arange(n, dtype=np.float32) for n in (9000, 12000, 15000)]
    targets = [np.arange(GRID.num_frames(len(w))) for w in waves]
    x, y = P.crop_batch(waves, targets, np.array([0, 1, 2]), GRID, max_crop=6400, rng=np.random.default_rng(0))
    assert x.shape == (3, 6400) and y.shape == (3, GRID.num_frames(6400))
    for b in range(3):
        off = int(x[b, 0]) // GRID.hop
        assert int(x[b, 0]) % GRID.hop == 0
        np.testing.assert_array_equal(y[b].numpy(), np.arange(off, off + y.shape[1]))


def test_batches_cover_every_utterance_once_per_epoch():
    batches = P.make_batches([5, 1, 9, 3, 7, 2, 8], 3, np.random.default_rng(0))
    assert sorted(np.concatenate(batches).tolist()) == list(range(7))
    assert max(map(len, batches)) == 3


# ---------------------------------------------------------------- model, training, checkpoints


def test_model_frame_count_equals_grid():
    model = H.build_model(TINY, GRID, seed=0)
    for n in (400, 719, 16000, 33333):
        assert int(model._get_feat_extract_output_lengths(n)) == GRID.num_frames(n)
    with torch.no_grad():
        assert model(torch.zeros(1, 16000)).last_hidden_state.shape == (1, GRID.num_frames(16000), 32)
    assert model.masked_spec_embed.shape == (32,)


def _fixed_batch_loss(model, head, waves, targets):
    model.eval()
    x, y = P.crop_batch(waves, targets, np.arange(len(waves)), GRID, 8000, np.random.default_rng(123))
    mask = torch.from_numpy(H.span_mask(y.shape[1], y.shape[0], 0.65, 10, np.random.default_rng(7)))
    with torch.no_grad():
        return H.hubert_loss(head(model(x, mask_time_indices=mask).last_hidden_state), y, mask)[0].item()


def test_training_reduces_the_loss_on_a_fixed_batch():
    torch.set_num_threads(1)
    waves = _waves(4)
    targets = _targets(waves)
    model = H.build_model(TINY, GRID, seed=0)
    torch.manual_seed(0)
    head = H.PretrainHead(32, 5, final_dim=16)
    before = _fixed_batch_loss(model, head, waves, targets)
    opts = default_settings(
        P.TrainSettings, "pretrain", batch_size=4, max_crop_s=0.5, lr=3e-3, warmup_fraction=0.1, log_every=5
    )
    log = P.train(model, head, waves, targets, GRID, opts, steps=25, seed=0, progress=False)
    after = _fixed_batch_loss(model, head, waves, targets)
    assert after < before - 0.1
    assert list(log.columns) == [
        "step",
        "loss",
        "loss_masked",
        "masked_acc",
        "chance",
        "majority_rate",
        "lr",
        "elapsed_s",
    ]
    assert log["step"].tolist() == [5, 10, 15, 20, 25] and (log["chance"] == 0.2).all()


def _train_small(seed=0, steps=6, on_checkpoint=None):
    waves = _waves(4)
    targets = _targets(waves)
    model = H.build_model(TINY, GRID, seed=seed)
    torch.manual_seed(seed)
    head = H.PretrainHead(32, 5, final_dim=16)
    opts = default_settings(P.TrainSettings, "pretrain", batch_size=2, max_crop_s=0.5, log_every=2)
    log = P.train(
        model,
        head,
        waves,
        targets,
        GRID,
        opts,
        steps=steps,
        seed=seed,
        checkpoint_steps=[0, 4],
        on_checkpoint=on_checkpoint,
        progress=False,
    )
    return model, head, log


def test_training_is_deterministic():
    torch.set_num_threads(1)
    m1, h1, l1 = _train_small()
    m2, h2, l2 = _train_small()
    pd.testing.assert_frame_equal(l1.drop(columns="elapsed_s"), l2.drop(columns="elapsed_s"))
    for (k, a), (_, b) in zip(m1.state_dict().items(), m2.state_dict().items()):
        assert torch.equal(a, b), k
    assert torch.equal(h1.label_embs, h2.label_embs)


def test_checkpoints_reload_with_identical_outputs(tmp_path):
    from transformers import HubertModel

    seen = []

    def save(step, model, head):
        seen.append(step)
        H.save_checkpoint(model, head, tmp_path / f"step-{step}", {"step": step})

    model, head, _ = _train_small(on_checkpoint=save)
    assert seen == [0, 4]
    H.save_checkpoint(model, head, tmp_path / "final", {"step": 6})
    assert (tmp_path / "final" / "model.safetensors").exists() and (tmp_path / "final" / H.HEAD_FILE).exists()
    x = torch.from_numpy(_waves(1, seed=5)[0])[None]
    reloaded = H.load_checkpoint(tmp_path / "final")[0].eval()  # the model's own class (AutoModel)
    assert type(reloaded) is type(model)
    with torch.no_grad():
        a = model.eval()(x, output_hidden_states=True).hidden_states
        b = reloaded(x, output_hidden_states=True).hidden_states
    for ha, hb in zip(a, b):
        torch.testing.assert_close(ha, hb, rtol=0, atol=0)
    head2 = H.load_head(tmp_path / "final")
    assert head2.n_clusters == 5 and torch.equal(head2.label_embs, head.label_embs)
    _, _, meta = H.load_checkpoint(tmp_path / "step-4")
    assert meta["step"] == 4 and meta["n_clusters"] == 5
    # the step-0 checkpoint is the untrained model, so it differs from the final one
    m0 = HubertModel.from_pretrained(tmp_path / "step-0")
    assert not torch.equal(
        m0.encoder.layers[0].feed_forward.intermediate_dense.weight,
        reloaded.encoder.layers[0].feed_forward.intermediate_dense.weight,
    )


def test_float16_checkpoints_store_half_and_load_as_float32(tmp_path):
    """The snapshots along pretraining are stored in float16 (half the disk) and load as a
    float32 model whose weights are the float16 values of the saved ones."""
    from safetensors.torch import load_file

    model, head, _ = _train_small()
    H.save_checkpoint(model, head, tmp_path / "full", {"step": 6})
    H.save_checkpoint(model, head, tmp_path / "half", {"step": 6}, weights_dtype=torch.float16)
    stored = load_file(str(tmp_path / "half" / "model.safetensors"))
    w = "encoder.layers.0.feed_forward.intermediate_dense.weight"
    assert stored[w].dtype == torch.float16
    size = {k: (tmp_path / k / "model.safetensors").stat().st_size for k in ("full", "half")}
    assert size["half"] < 0.6 * size["full"]
    back = H.load_checkpoint(tmp_path / "half")[0]
    weight = back.encoder.layers[0].feed_forward.intermediate_dense.weight
    assert weight.dtype == torch.float32
    assert torch.equal(weight, model.encoder.layers[0].feed_forward.intermediate_dense.weight.half().float())


def test_checkpoint_loads_through_the_model_registry(tmp_path):
    models = pytest.importorskip("speechneurons.model.registry")
    model = H.build_model(TINY, GRID, seed=0).eval()
    H.save_checkpoint(model, H.PretrainHead(32, 5, 16), tmp_path / "m", {"step": 0})
    loaded = models.load_model(str(tmp_path / "m"), "cpu")
    x = torch.from_numpy(_waves(1)[0])[None]
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x).last_hidden_state, model(x).last_hidden_state, rtol=0, atol=0)


def test_continue_pretraining_a_model_with_per_layer_ffn_widths(tmp_path):
    from speechneurons.model.targets import targets_table

    torch.set_num_threads(1)
    waves = _waves(4)
    manifest = wav_manifest(tmp_path, waves)
    targets = targets_table(manifest.utt_id, _targets(waves))
    model = H.build_model(TINY, GRID, seed=0)
    ff = model.encoder.layers[0].feed_forward  # prune layer 0 to 40 neurons (rows of fc1, columns of fc2)
    keep = torch.arange(40)
    fc1, fc2 = torch.nn.Linear(32, 40), torch.nn.Linear(40, 32)
    with torch.no_grad():
        fc1.weight.copy_(ff.intermediate_dense.weight[keep]), fc1.bias.copy_(ff.intermediate_dense.bias[keep])
        fc2.weight.copy_(ff.output_dense.weight[:, keep]), fc2.bias.copy_(ff.output_dense.bias)
    ff.intermediate_dense, ff.output_dense = fc1, fc2
    before = fc1.weight.detach().clone()
    settings = default_settings(P.TrainSettings, "pretrain", batch_size=2, max_crop_s=0.5, log_every=2)
    model, head, log = P.continue_pretraining(model, manifest, targets, steps=4, settings=settings, progress=False)
    assert head.n_clusters == 5 and len(log) == 2
    assert model.encoder.layers[0].feed_forward.intermediate_dense.weight.shape == (40, 32)
    assert not torch.equal(before, model.encoder.layers[0].feed_forward.intermediate_dense.weight)


def test_align_targets_checks_frame_counts():
    waves = _waves(2)
    good = {"a": np.zeros(GRID.num_frames(len(waves[0])), int)}
    ids, ws, ts, skipped = P.align_targets(["a", "b"], waves, good, GRID)
    assert ids == ["a"] and skipped == 1
    with pytest.raises(ValueError, match="rebuild the targets"):
        P.align_targets(["a"], waves[:1], {"a": np.zeros(3, int)}, GRID)


def test_plot_curve_writes_png(tmp_path):
    log = pd.DataFrame(
        {
            "step": [10, 20],
            "loss": [4.0, 3.0],
            "masked_acc": [0.02, 0.1],
            "chance": 0.01,
            "majority_rate": 0.04,
            "lr": 1e-3,
            "elapsed_s": [1.0, 2.0],
        }
    )
    plot_curve([log], tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:4] == b"\x89PNG"


def test_checkpoint_schedule_counts_steps_over_iterations():
    its = [
        S.IterationSettings(steps=100, targets="mfcc", layer=4, n_clusters=10, init="scratch"),
        S.IterationSettings(steps=50, targets="layer", layer=2, n_clusters=10, init="resume"),
    ]
    assert S.checkpoint_schedule(its, [0, 20, 50, 200]) == [[(0, 0), (20, 20), (50, 50)], [(20, 120), (50, 150)]]


def test_checkpoint_names_and_their_iteration():
    section = {
        "iterations": [
            dict(steps=100, targets="mfcc", layer=4, n_clusters=10, init="scratch"),
            dict(steps=50, targets="layer", layer=2, n_clusters=10, init="resume"),
        ],
        "checkpoint_steps": [0, 50],
    }
    assert S.checkpoint_names(section) == ["step-0", "step-50", "step-150", "final"]
    assert [S.checkpoint_iteration(section, c) for c in ("step-0", "step-50", "step-150", "final")] == [1, 1, 2, 2]
    with pytest.raises(ValueError, match="not saved"):
        S.checkpoint_iteration(section, "step-100")


def test_heldout_corpus_is_every_split_pretraining_never_saw_spread_evenly(tmp_path):
    grid = FrameGrid()
    waves = _waves(6)
    manifest = wav_manifest(tmp_path, waves, splits=["train", "test", "train", "test", "test", "test"])
    ids, got, held = P.heldout_corpus(manifest, grid, ["train"])
    assert held == ["test"] and ids == ["u1", "u3", "u4", "u5"] and len(got) == 4
    ids, _, _ = P.heldout_corpus(manifest, grid, ["train"], max_utterances=2)
    assert ids == ["u1", "u5"]  # the first and the last: evenly spread, the same every time
