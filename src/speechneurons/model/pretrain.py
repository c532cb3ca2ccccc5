"""HuBERT pretraining of a small ``transformers.HubertModel`` (and continued pretraining).

Objective (Hsu et al. 2021): span masking picks starts with probability p and masks the
``span`` frames after each start; masked frames of the feature projection are replaced by the
model's ``masked_spec_embed``. A head projects the last hidden state, o_t = W h_t + b, and scores
every cluster c by cosine similarity with its embedding e_c:
    logit_{t,c} = cos(o_t, e_c) / temperature   (temperature 0.1),
    L = CE over masked frames + unmasked_weight * CE over unmasked frames.
AdamW, linear warm-up then linear or cosine decay, gradient clipping. Batches group utterances
of similar length and crop them to one length (at most ``max_crop_s``) at hop-aligned offsets,
so frame t of a crop is frame t + offset / hop of the utterance and no padding is needed.
Checkpoints are ``save_pretrained`` folders (safetensors) with the head beside them in
``pretrain_head.safetensors`` and ``pretrain.json`` (step, cluster count, ...).
"""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from speechneurons.frames import FrameGrid

log = logging.getLogger(__name__)

HEAD_FILE = "pretrain_head.safetensors"
META_FILE = "pretrain.json"


# ----------------------------------------------------------------------------- model


def build_model(pcfg: dict, grid: FrameGrid, seed: int = 0):
    """A randomly initialised HubertModel of the configured size on the frame grid's conv stack."""
    from transformers import HubertConfig, HubertModel

    n_conv = len(grid.conv_kernel)
    hidden = int(pcfg["hidden_size"])
    config = HubertConfig(
        conv_dim=(int(pcfg["conv_dim"]),) * n_conv,
        conv_kernel=tuple(grid.conv_kernel),
        conv_stride=tuple(grid.conv_stride),
        conv_bias=False,
        feat_extract_norm="group",
        hidden_size=hidden,
        num_hidden_layers=int(pcfg["num_layers"]),
        num_attention_heads=int(pcfg["num_heads"]),
        intermediate_size=int(pcfg["intermediate_size"]),
        num_conv_pos_embeddings=int(pcfg["conv_pos_kernel"]),
        num_conv_pos_embedding_groups=int(pcfg["conv_pos_groups"]),
        hidden_dropout=float(pcfg["dropout"]),
        attention_dropout=float(pcfg["dropout"]),
        activation_dropout=float(pcfg["dropout"]),
        feat_proj_dropout=0.0,
        layerdrop=0.0,
        do_stable_layer_norm=bool(pcfg.get("stable_layer_norm", False)),
        apply_spec_augment=True,
        mask_time_prob=float(pcfg["mask_prob"]),  # > 0 so that the model owns masked_spec_embed
        mask_time_length=int(pcfg["mask_length"]),
        mask_feature_prob=0.0,
    )
    torch.manual_seed(seed)
    model = HubertModel(config)
    check_grid(model, grid)
    return model


def check_grid(model, grid: FrameGrid) -> None:
    """The model's conv stack must give the configured frame grid."""
    k, s = tuple(model.config.conv_kernel), tuple(model.config.conv_stride)
    if (k, s) != (tuple(grid.conv_kernel), tuple(grid.conv_stride)):
        raise ValueError(f"model conv stack kernel={k} stride={s} differs from the frame grid {grid}")


class PretrainHead(nn.Module):
    """Projection + cluster embeddings; logits = cos(W h + b, e_c) / temperature."""

    def __init__(self, hidden_size: int, n_clusters: int, final_dim: int = 128, temperature: float = 0.1):
        super().__init__()
        self.proj = nn.Linear(hidden_size, final_dim)
        self.label_embs = nn.Parameter(torch.empty(n_clusters, final_dim).uniform_(-1, 1) / math.sqrt(final_dim))
        self.temperature = temperature

    @property
    def n_clusters(self) -> int:
        return self.label_embs.shape[0]

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        o = nn.functional.normalize(self.proj(hidden), dim=-1)
        e = nn.functional.normalize(self.label_embs, dim=-1)
        return o @ e.T / self.temperature


# ----------------------------------------------------------------------------- masking


def span_mask(n_frames: Sequence[int] | int, batch: int | None, mask_prob: float, span: int, rng: np.random.Generator, min_masks: int = 2) -> np.ndarray:
    """HuBERT/wav2vec 2.0 span masking, [batch, T] booleans.

    Per row of length T: k = floor(mask_prob * T / span + u), u ~ U[0, 1), at least
    ``min_masks``, at most T - span + 1 distinct starts drawn without replacement from
    [0, T - span]; each start masks frames start..start + span - 1 (spans may overlap), so
    the expected masked share is close to ``mask_prob`` and every masked run is >= span long.
    """
    lengths = [int(n_frames)] * int(batch) if np.isscalar(n_frames) else [int(n) for n in n_frames]
    T = max(lengths) if lengths else 0
    mask = np.zeros((len(lengths), T), dtype=bool)
    for i, L in enumerate(lengths):
        if L <= 0:
            continue
        sp = min(span, L)
        n_starts = L - sp + 1
        k = int(mask_prob * L / sp + rng.random())
        k = min(max(k, min_masks), n_starts)
        starts = rng.choice(n_starts, size=k, replace=False)
        for s in starts:
            mask[i, s : s + sp] = True
    return mask


# ----------------------------------------------------------------------------- loss


def hubert_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, unmasked_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    """CE on masked frames (+ weighted CE on unmasked); targets < 0 are ignored.

    Returns the loss and statistics: masked accuracy, counts.
    """
    valid = targets >= 0
    ce = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.clamp_min(0).reshape(-1), reduction="none")
    ce = ce.reshape(targets.shape)
    m = mask & valid
    u = ~mask & valid
    loss_m = ce[m].mean() if m.any() else ce.sum() * 0.0
    loss = loss_m
    if unmasked_weight > 0 and u.any():
        loss = loss + unmasked_weight * ce[u].mean()
    with torch.no_grad():
        correct = (logits.argmax(-1) == targets) & m
        stats = {"n_masked": int(m.sum()), "n_correct": int(correct.sum()), "loss_masked": loss_m.item()}
    return loss, stats


# ----------------------------------------------------------------------------- data


@dataclass
class TrainOptions:
    """Optimisation settings (see schemas/pretrain.schema.yaml for meanings)."""

    steps: int = 600
    batch_size: int = 8
    max_crop_s: float = 2.0
    lr: float = 2e-3
    warmup_fraction: float = 0.05
    schedule: str = "linear"
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    mask_prob: float = 0.65
    mask_length: int = 10
    unmasked_weight: float = 0.5
    final_dim: int = 128
    temperature: float = 0.1
    log_every: int = 10
    checkpoint_steps: list[int] = field(default_factory=list)
    seed: int = 0

    @classmethod
    def from_config(cls, pcfg: dict, seed: int, steps: int | None = None) -> "TrainOptions":
        names = set(cls.__dataclass_fields__)
        kw = {k: v for k, v in pcfg.items() if k in names}
        kw["seed"] = seed
        if steps is not None:
            kw["steps"] = steps
        return cls(**kw)


def make_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator, jitter: float = 0.1) -> list[np.ndarray]:
    """One epoch of batches: sort by length x U(1 - jitter, 1 + jitter), cut, shuffle batches."""
    lengths = np.asarray(lengths, dtype=float)
    order = np.argsort(lengths * rng.uniform(1 - jitter, 1 + jitter, len(lengths)), kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def crop_batch(
    waves: Sequence[np.ndarray], targets: Sequence[np.ndarray], idx: np.ndarray, grid: FrameGrid, max_crop: int, rng: np.random.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """Crop the utterances ``idx`` to a common length at hop-aligned random offsets.

    Returns audio [B, crop] and targets [B, grid.num_frames(crop)] (-100 past an utterance's labels).
    """
    crop = min(min(len(waves[i]) for i in idx), max_crop)
    n = grid.num_frames(crop)
    x = np.zeros((len(idx), crop), dtype=np.float32)
    y = np.full((len(idx), n), -100, dtype=np.int64)
    for b, i in enumerate(idx):
        max_off = (len(waves[i]) - crop) // grid.hop
        off = int(rng.integers(0, max_off + 1)) if max_off > 0 else 0
        x[b] = waves[i][off * grid.hop : off * grid.hop + crop]
        t = targets[i][off : off + n]
        y[b, : len(t)] = t
    return torch.from_numpy(x), torch.from_numpy(y)


def lr_factor(step: int, total: int, warmup_fraction: float, schedule: str = "linear") -> float:
    """Linear warm-up to 1 over warmup_fraction * total steps, then linear/cosine decay to 0."""
    warm = max(1, int(round(warmup_fraction * total)))
    if step < warm:
        return (step + 1) / warm
    frac = (step - warm) / max(1, total - warm)
    return 0.5 * (1 + math.cos(math.pi * frac)) if schedule == "cosine" else max(0.0, 1.0 - frac)


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(model, head: PretrainHead, folder: str | Path, meta: dict) -> None:
    """``save_pretrained`` (safetensors) + head + pretrain.json + a feature-extractor config."""
    from safetensors.torch import save_file
    from transformers import Wav2Vec2FeatureExtractor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    save_file({k: v.detach().cpu().contiguous() for k, v in head.state_dict().items()}, str(folder / HEAD_FILE))
    Wav2Vec2FeatureExtractor(
        feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=False, return_attention_mask=False
    ).save_pretrained(folder)
    meta = {**meta, "n_clusters": head.n_clusters, "final_dim": head.proj.out_features, "temperature": head.temperature}
    (folder / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def load_head(folder: str | Path, hidden_size: int | None = None) -> PretrainHead:
    """The pretraining head saved beside a checkpoint."""
    from safetensors.torch import load_file

    folder = Path(folder)
    meta = json.loads((folder / META_FILE).read_text())
    state = load_file(str(folder / HEAD_FILE))
    head = PretrainHead(hidden_size or state["proj.weight"].shape[1], meta["n_clusters"], meta["final_dim"], meta["temperature"])
    head.load_state_dict(state)
    return head


def load_checkpoint(folder: str | Path):
    """(HubertModel, PretrainHead, meta) of a checkpoint folder."""
    from transformers import HubertModel

    model = HubertModel.from_pretrained(str(folder))
    return model, load_head(folder, model.config.hidden_size), json.loads((Path(folder) / META_FILE).read_text())


# ----------------------------------------------------------------------------- training


def train(
    model,
    head: PretrainHead,
    waves: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    grid: FrameGrid,
    opts: TrainOptions,
    device: torch.device | str = "cpu",
    on_checkpoint: Callable[[int, object, PretrainHead], None] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``opts.steps`` optimiser steps; returns the training log.

    Log columns: step, loss (total), loss_masked (CE of masked frames), masked_acc, chance (1/K), majority_rate (share of the most frequent
    target), lr, elapsed_s; loss and accuracy are averaged over the ``log_every`` steps ending at
    ``step``. ``on_checkpoint(step, model, head)`` is called at each step of
    ``opts.checkpoint_steps`` (0 = before training) and the model is left in eval mode.
    """
    from tqdm.auto import tqdm

    if len(waves) != len(targets) or not waves:
        raise ValueError("need one target array per utterance and at least one utterance")
    device = torch.device(device)
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    model.to(device).train()
    head.to(device).train()
    params = [p for p in list(model.parameters()) + list(head.parameters()) if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": opts.weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=opts.lr, betas=(0.9, 0.98), eps=1e-6
    )
    sched = torch.optim.lr_scheduler.LambdaLR(optim, lambda s: lr_factor(s, opts.steps, opts.warmup_fraction, opts.schedule))
    all_t = np.concatenate([t for t in targets])
    counts = np.bincount(all_t[all_t >= 0], minlength=head.n_clusters)
    chance, majority = 1.0 / head.n_clusters, float(counts.max() / max(1, counts.sum()))
    max_crop = int(round(opts.max_crop_s * grid.sample_rate))
    lengths = [len(w) for w in waves]
    ckpts = set(int(s) for s in opts.checkpoint_steps)

    def checkpoint(step: int) -> None:
        if on_checkpoint is not None and step in ckpts:
            model.eval(), head.eval()
            on_checkpoint(step, model, head)
            model.train(), head.train()

    checkpoint(0)
    rows, acc_loss, acc_lm, acc_n, acc_c, acc_k = [], 0.0, 0.0, 0, 0, 0
    batches: list[np.ndarray] = []
    t0 = time.time()
    bar = tqdm(total=opts.steps, disable=not progress, mininterval=5.0, desc="pretrain")
    for step in range(1, opts.steps + 1):
        if not batches:
            batches = make_batches(lengths, opts.batch_size, rng)
        idx = batches.pop()
        x, y = crop_batch(waves, targets, idx, grid, max_crop, rng)
        mask = torch.from_numpy(span_mask(y.shape[1], y.shape[0], opts.mask_prob, opts.mask_length, rng))
        x, y, mask = x.to(device), y.to(device), mask.to(device)
        hidden = model(x, mask_time_indices=mask).last_hidden_state
        loss, st = hubert_loss(head(hidden), y, mask, opts.unmasked_weight)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if opts.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, opts.grad_clip)
        optim.step()
        sched.step()
        acc_loss, acc_lm, acc_k = acc_loss + loss.item(), acc_lm + st["loss_masked"], acc_k + 1
        acc_n, acc_c = acc_n + st["n_masked"], acc_c + st["n_correct"]
        bar.update(1)
        if step % opts.log_every == 0 or step == opts.steps:
            row = {
                "step": step,
                "loss": acc_loss / acc_k,
                "loss_masked": acc_lm / acc_k,
                "masked_acc": acc_c / max(1, acc_n),
                "chance": chance,
                "majority_rate": majority,
                "lr": optim.param_groups[0]["lr"],
                "elapsed_s": time.time() - t0,
            }
            rows.append(row)
            bar.set_postfix(loss=f"{row['loss']:.3f}", acc=f"{row['masked_acc']:.3f}")
            log.info("step %d loss %.4f masked_acc %.4f (chance %.4f, majority %.4f)", step, row["loss"], row["masked_acc"], chance, majority)
            acc_loss, acc_lm, acc_n, acc_c, acc_k = 0.0, 0.0, 0, 0, 0
        checkpoint(step)
    bar.close()
    model.eval(), head.eval()
    return pd.DataFrame(rows, columns=["step", "loss", "loss_masked", "masked_acc", "chance", "majority_rate", "lr", "elapsed_s"])


def load_corpus(
    manifest: pd.DataFrame | str | Path, grid: FrameGrid, splits: Sequence[str] | None = None, on_bad_input: str = "error", min_frames: int = 1
) -> tuple[list[str], list[np.ndarray], list[tuple[str, str]]]:
    """(utt_ids, waves, skipped) of the manifest rows in ``splits`` (all rows when None).

    Audio shorter than ``min_frames`` model frames, or unreadable with on_bad_input = 'skip',
    is left out and listed in ``skipped`` as (utt_id, reason); unreadable audio with 'error'
    raises BadInputError naming the file.
    """
    from speechneurons.errors import BadInputError
    from speechneurons.model.targets import load_wave

    if isinstance(manifest, pd.DataFrame):
        df = manifest
    else:
        try:
            from speechneurons.corpus.manifest import read_manifest
        except ImportError:  # pragma: no cover - before the corpus stage landed
            from speechneurons.io import read_table as read_manifest
        df = read_manifest(manifest)
    if splits:
        df = df[df["split"].isin(list(splits))]
    ids, waves, skipped = [], [], []
    for utt, path in zip(df["utt_id"].astype(str), df["audio_path"]):
        try:
            wave = load_wave(path, grid.sample_rate)
        except BadInputError as exc:
            if on_bad_input != "skip":
                raise
            skipped.append((utt, exc.problem))
            continue
        if grid.num_frames(len(wave)) < min_frames:
            skipped.append((utt, f"shorter than {min_frames} model frame(s)"))
            continue
        ids.append(utt), waves.append(wave)
    if skipped:
        log.warning("skipped %d utterance(s), e.g. %s: %s", len(skipped), *skipped[0])
    if not ids:
        raise BadInputError(str(manifest), f"no usable utterance in splits {list(splits or [])}", "Check the manifest and pretrain.splits.")
    return ids, waves, skipped


def align_targets(utt_ids: Sequence[str], waves: Sequence[np.ndarray], targets: dict[str, np.ndarray], grid: FrameGrid, min_frames: int = 1):
    """Keep the utterances with targets and at least ``min_frames`` frames; check the counts.

    Returns (utt_ids, waves, target arrays, n_skipped). A target count that differs from the
    frame grid's is an error (the targets were made on another grid).
    """
    ids, ws, ts, skipped = [], [], [], 0
    for u, w in zip(utt_ids, waves):
        n = grid.num_frames(len(w))
        if u not in targets or n < min_frames:
            skipped += 1
            continue
        if len(targets[u]) != n:
            raise ValueError(f"targets of {u} have {len(targets[u])} frames, the frame grid gives {n}: rebuild the targets")
        ids.append(u), ws.append(w), ts.append(targets[u])
    return ids, ws, ts, skipped


def continue_pretraining(
    model,
    manifest: pd.DataFrame | str | Path,
    targets: pd.DataFrame | str | Path | dict,
    steps: int,
    head: PretrainHead | None = None,
    grid: FrameGrid | None = None,
    options: TrainOptions | dict | None = None,
    splits: Sequence[str] | None = ("train",),
    device: torch.device | str = "cpu",
    seed: int = 0,
    progress: bool = True,
):
    """Continue pretraining ``model`` (any HubertModel, e.g. with pruned, per-layer FFN widths)
    for ``steps`` steps with the HuBERT objective on a corpus and its frame targets.

    ``targets``: a targets table (``utt_id, frame, target``), its path, or utt_id -> array.
    ``head``: the checkpoint's head (``load_head``); a new one is made when None.
    Returns (model, head, training log).
    """
    from speechneurons.io import read_table
    from speechneurons.model.targets import targets_from_table

    grid = grid or FrameGrid(tuple(model.config.conv_kernel), tuple(model.config.conv_stride))
    if isinstance(targets, (str, Path)):
        targets = read_table(targets)
    if isinstance(targets, pd.DataFrame):
        targets = targets_from_table(targets)
    if isinstance(options, dict):
        options = TrainOptions(**{k: v for k, v in options.items() if k in TrainOptions.__dataclass_fields__})
    opts = options or TrainOptions()
    opts = TrainOptions(**{**asdict(opts), "steps": int(steps), "seed": seed, "checkpoint_steps": []})
    if getattr(model, "masked_spec_embed", None) is None:
        model.config.mask_time_prob = max(model.config.mask_time_prob, opts.mask_prob)
        model.masked_spec_embed = nn.Parameter(torch.empty(model.config.hidden_size).uniform_())
    model.config.apply_spec_augment = True
    ids, waves, _ = load_corpus(manifest, grid, splits, on_bad_input="skip", min_frames=1)
    ids, waves, tgts, _ = align_targets(ids, waves, targets, grid)
    if head is None:
        torch.manual_seed(seed)
        n_clusters = int(max(t.max() for t in tgts)) + 1
        head = PretrainHead(model.config.hidden_size, n_clusters, opts.final_dim, opts.temperature)
    train_log = train(model, head, waves, tgts, grid, opts, device=device, progress=progress)
    return model, head, train_log


def plot_curve(logs: Sequence[pd.DataFrame], path: str | Path, labels: Sequence[str] | None = None) -> None:
    """Loss and masked accuracy against steps (one colour per iteration, each continuing the
    step axis of the previous one), with chance and the majority-class rate; atomic PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speechneurons.io import atomic_path

    labels = labels or [f"iteration {i + 1}" for i in range(len(logs))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    offset = 0
    for i, (df, lab) in enumerate(zip(logs, labels)):
        c = f"C{i}"
        x = df["step"] + offset  # later iterations continue the step axis
        offset += int(df["step"].max()) if len(df) else 0
        ax1.plot(x, df["loss"], color=c, label=f"{lab}: total")
        if "loss_masked" in df:
            ax1.plot(x, df["loss_masked"], color=c, ls="--", label=f"{lab}: masked frames")
        ax2.plot(x, df["masked_acc"], color=c, label=f"{lab}: masked accuracy")
        if len(df):
            ax2.axhline(df["chance"].iloc[0], color=c, ls=":", lw=1, label=f"{lab}: chance 1/K")
            ax2.axhline(df["majority_rate"].iloc[0], color=c, ls="--", lw=1, label=f"{lab}: majority class")
    ax1.set(xlabel="step (iterations one after the other)", ylabel="cross-entropy", title="Pretraining loss")
    ax2.set(xlabel="step (iterations one after the other)", ylabel="accuracy", title="Masked-prediction accuracy", ylim=(0, None))
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)
