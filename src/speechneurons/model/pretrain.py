"""Training the HuBERT pretraining model (:mod:`speechneurons.model.hubert`), from scratch or
continued (e.g. on a pruned model).

AdamW, linear warm-up then linear or cosine decay, gradient clipping. Batches group utterances
of similar length and crop them to one length (at most ``max_crop_s``) at hop-aligned offsets,
so frame t of a crop is frame t + offset / hop of the utterance and no padding is needed.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from speechneurons.frames import FrameGrid
from speechneurons.model.hubert import PretrainHead, hubert_loss, span_mask
from speechneurons.model.settings import TrainSettings  # the settings live there now (no torch)

log = logging.getLogger(__name__)

# ----------------------------------------------------------------------------- data


def make_batches(
    lengths: Sequence[int], batch_size: int, rng: np.random.Generator, jitter: float = 0.1
) -> list[np.ndarray]:
    """One epoch of batches: sort by length x U(1 - jitter, 1 + jitter), cut, shuffle batches."""
    lengths = np.asarray(lengths, dtype=float)
    order = np.argsort(lengths * rng.uniform(1 - jitter, 1 + jitter, len(lengths)), kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(batches)
    return batches


def crop_batch(
    waves: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    idx: np.ndarray,
    grid: FrameGrid,
    max_crop: int,
    rng: np.random.Generator,
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


# ----------------------------------------------------------------------------- training


def train(
    model,
    head: PretrainHead,
    waves: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    grid: FrameGrid,
    settings: TrainSettings,
    steps: int,
    seed: int,
    checkpoint_steps: Sequence[int] = (),
    device: torch.device | str = "cpu",
    on_checkpoint: Callable[[int, object, PretrainHead], None] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Run ``steps`` optimiser steps; returns the training log.

    Log columns: step, loss (total), loss_masked (CE of masked frames), masked_acc, chance (1/K),
    majority_rate (share of the most frequent target), lr, elapsed_s; loss and accuracy are
    averaged over the ``log_every`` steps ending at ``step``. ``on_checkpoint(step, model, head)``
    is called at each step of ``checkpoint_steps`` (0 = before training) and the model is left in
    eval mode.
    """
    from tqdm.auto import tqdm

    if len(waves) != len(targets) or not waves:
        raise ValueError("need one target array per utterance and at least one utterance")
    device = torch.device(device)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device).train()
    head.to(device).train()
    params = [p for p in list(model.parameters()) + list(head.parameters()) if p.requires_grad]
    decay = [p for p in params if p.ndim >= 2]
    no_decay = [p for p in params if p.ndim < 2]
    optim = torch.optim.AdamW(
        [{"params": decay, "weight_decay": settings.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=settings.lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: lr_factor(s, steps, settings.warmup_fraction, settings.schedule)
    )
    all_t = np.concatenate(list(targets))
    counts = np.bincount(all_t[all_t >= 0], minlength=head.n_clusters)
    chance, majority = 1.0 / head.n_clusters, float(counts.max() / max(1, counts.sum()))
    max_crop = int(round(settings.max_crop_s * grid.sample_rate))
    lengths = [len(w) for w in waves]
    ckpts = {int(s) for s in checkpoint_steps}

    def checkpoint(step: int) -> None:
        if on_checkpoint is not None and step in ckpts:
            model.eval(), head.eval()
            on_checkpoint(step, model, head)
            model.train(), head.train()

    checkpoint(0)
    rows, acc_loss, acc_lm, acc_n, acc_c, acc_k = [], 0.0, 0.0, 0, 0, 0
    batches: list[np.ndarray] = []
    t0 = time.time()
    bar = tqdm(total=steps, disable=not progress, mininterval=5.0, desc="pretrain")
    for step in range(1, steps + 1):
        if not batches:
            batches = make_batches(lengths, settings.batch_size, rng)
        idx = batches.pop()
        x, y = crop_batch(waves, targets, idx, grid, max_crop, rng)
        mask = torch.from_numpy(span_mask(y.shape[1], y.shape[0], settings.mask_prob, settings.mask_length, rng))
        x, y, mask = x.to(device), y.to(device), mask.to(device)
        hidden = model(x, mask_time_indices=mask).last_hidden_state
        loss, st = hubert_loss(head(hidden), y, mask, settings.unmasked_weight)
        optim.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        optim.step()
        sched.step()
        acc_loss, acc_lm, acc_k = acc_loss + loss.item(), acc_lm + st["loss_masked"], acc_k + 1
        acc_n, acc_c = acc_n + st["n_masked"], acc_c + st["n_correct"]
        bar.update(1)
        if step % settings.log_every == 0 or step == steps:
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
            log.info(
                "step %d loss %.4f masked_acc %.4f (chance %.4f, majority %.4f)",
                step,
                row["loss"],
                row["masked_acc"],
                chance,
                majority,
            )
            acc_loss, acc_lm, acc_n, acc_c, acc_k = 0.0, 0.0, 0, 0, 0
        checkpoint(step)
    bar.close()
    model.eval(), head.eval()
    return pd.DataFrame(
        rows, columns=["step", "loss", "loss_masked", "masked_acc", "chance", "majority_rate", "lr", "elapsed_s"]
    )


def load_corpus(
    manifest: pd.DataFrame | str | Path,
    grid: FrameGrid,
    splits: Sequence[str] | None = None,
    on_bad_input: str = "error",
    min_frames: int = 1,
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
        raise BadInputError(
            str(manifest),
            f"no usable utterance in splits {list(splits or [])}",
            "Check the manifest and pretrain.splits.",
        )
    return ids, waves, skipped


def heldout_corpus(
    manifest: pd.DataFrame,
    grid: FrameGrid,
    pretrain_splits: Sequence[str],
    on_bad_input: str = "error",
    max_utterances: int = 0,
) -> tuple[list[str], list[np.ndarray], list[str]]:
    """(utt_ids, waves, splits) of the utterances pretraining never saw: every split not in
    ``pretrain_splits``; at most ``max_utterances`` (0 = all), spread evenly over the manifest
    order, so every scoring of held-out masked prediction uses the same utterances."""
    held = sorted(set(manifest["split"]) - set(pretrain_splits))
    ids, waves, _ = load_corpus(manifest, grid, held, on_bad_input, min_frames=1)
    if max_utterances and len(ids) > max_utterances:
        keep = np.unique(np.linspace(0, len(ids) - 1, max_utterances).round().astype(int))
        ids, waves = [ids[i] for i in keep], [waves[i] for i in keep]
    return ids, waves, held


def align_targets(
    utt_ids: Sequence[str],
    waves: Sequence[np.ndarray],
    targets: dict[str, np.ndarray],
    grid: FrameGrid,
    min_frames: int = 1,
):
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
            raise ValueError(
                f"targets of {u} have {len(targets[u])} frames, the frame grid gives {n}: rebuild the targets"
            )
        ids.append(u), ws.append(w), ts.append(targets[u])
    return ids, ws, ts, skipped


def continue_pretraining(
    model,
    manifest: pd.DataFrame | str | Path,
    targets: pd.DataFrame | str | Path | dict,
    steps: int,
    settings: TrainSettings,
    head: PretrainHead | None = None,
    grid: FrameGrid | None = None,
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
    if getattr(model, "masked_spec_embed", None) is None:
        model.config.mask_time_prob = max(model.config.mask_time_prob, settings.mask_prob)
        model.masked_spec_embed = nn.Parameter(torch.empty(model.config.hidden_size).uniform_())
    model.config.apply_spec_augment = True
    ids, waves, _ = load_corpus(manifest, grid, splits, on_bad_input="skip", min_frames=1)
    ids, waves, tgts, _ = align_targets(ids, waves, targets, grid)
    if head is None:
        torch.manual_seed(seed)
        n_clusters = int(max(t.max() for t in tgts)) + 1
        head = PretrainHead(model.config.hidden_size, n_clusters, settings.final_dim, settings.temperature)
    train_log = train(model, head, waves, tgts, grid, settings, steps, seed, device=device, progress=progress)
    return model, head, train_log
