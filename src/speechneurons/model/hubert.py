"""The HuBERT pretraining model: a randomly initialised ``transformers.HubertModel`` of the
configured size on the frame grid's conv stack, the prediction head, span masking, the loss,
and checkpoints.

Objective (Hsu et al. 2021): span masking picks span starts and masks the ``mask_length``
frames after each start (see :func:`span_mask`); masked frames of the feature projection are
replaced by the model's ``masked_spec_embed``. A head projects the last hidden state,
o_t = W h_t + b, and scores every cluster c by cosine similarity with its embedding e_c:
    logit_{t,c} = cos(o_t, e_c) / temperature,
    L = CE over masked frames + unmasked_weight * CE over unmasked frames.
Checkpoints are ``save_pretrained`` folders (safetensors) with the head beside them in
``pretrain_head.safetensors`` and ``pretrain.json`` (step, cluster count, ...).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from speechneurons.frames import FrameGrid
from speechneurons.model.settings import ModelSettings  # the settings live there now (no torch)

HEAD_FILE = "pretrain_head.safetensors"


META_FILE = "pretrain.json"


def build_model(settings: ModelSettings, grid: FrameGrid, seed: int = 0):
    """A randomly initialised model of the configured size on the frame grid.

    ``frontend: waveform``: a HubertModel whose conv stack has the grid's kernels and strides;
    ``logmel``: a :class:`~speechneurons.model.melhubert.MelHubertModel` whose log-Mel frames have
    the grid's receptive field as window and its hop. The transformer is the same.
    """
    from transformers import HubertConfig, HubertModel

    from speechneurons.model.melhubert import MelHubertConfig, MelHubertModel

    if settings.frontend == "waveform":
        front = dict(
            conv_dim=(settings.conv_dim,) * len(grid.conv_kernel),
            conv_kernel=tuple(grid.conv_kernel),
            conv_stride=tuple(grid.conv_stride),
            conv_bias=False,
            feat_extract_norm="group",
        )
        config_cls, model_cls = HubertConfig, HubertModel
    elif settings.frontend == "logmel":
        front = dict(
            conv_kernel=(grid.receptive_field,),
            conv_stride=(grid.hop,),
            n_mels=settings.n_mels,
            sampling_rate=grid.sample_rate,
        )
        config_cls, model_cls = MelHubertConfig, MelHubertModel
    else:
        raise ValueError(f"unknown front-end {settings.frontend!r}: use waveform or logmel")
    config = config_cls(
        **front,
        hidden_size=settings.hidden_size,
        num_hidden_layers=settings.num_layers,
        num_attention_heads=settings.num_heads,
        intermediate_size=settings.intermediate_size,
        num_conv_pos_embeddings=settings.conv_pos_kernel,
        num_conv_pos_embedding_groups=settings.conv_pos_groups,
        hidden_dropout=settings.dropout,
        attention_dropout=settings.dropout,
        activation_dropout=settings.dropout,
        feat_proj_dropout=0.0,
        layerdrop=0.0,
        do_stable_layer_norm=settings.stable_layer_norm,
        apply_spec_augment=True,
        mask_time_prob=settings.mask_prob,  # > 0 so that the model owns masked_spec_embed
        mask_time_length=settings.mask_length,
        mask_feature_prob=0.0,
    )
    torch.manual_seed(seed)
    model = model_cls(config)
    check_grid(model, grid)
    return model


def check_grid(model, grid: FrameGrid) -> None:
    """The model's conv stack (or log-Mel window and hop) must put its frames where the grid does."""
    k, s = tuple(model.config.conv_kernel), tuple(model.config.conv_stride)
    if not FrameGrid(k, s, grid.sample_rate).same_frames_as(grid):
        raise ValueError(f"model conv stack kernel={k} stride={s} gives other frames than the frame grid {grid}")


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


def span_mask(
    n_frames: Sequence[int] | int,
    batch: int | None,
    mask_prob: float,
    span: int,
    rng: np.random.Generator,
    min_masks: int = 2,
) -> np.ndarray:
    """HuBERT/wav2vec 2.0 span masking, [batch, T] booleans.

    Per row of length T: k = floor(mask_prob * T / span + u), u ~ U[0, 1), at least
    ``min_masks``, at most T - span + 1 distinct starts drawn without replacement from
    [0, T - span]; each start masks frames start..start + span - 1. Spans overlap, so the
    masked share is about 1 - exp(-mask_prob) (48 % at 0.65), not ``mask_prob``; every masked
    run is >= span long.
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


def hubert_loss(
    logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor, unmasked_weight: float = 0.0
) -> tuple[torch.Tensor, dict]:
    """CE on masked frames (+ weighted CE on unmasked); targets < 0 are ignored.

    Returns the loss and statistics: masked accuracy, counts.
    """
    valid = targets >= 0
    ce = nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), targets.clamp_min(0).reshape(-1), reduction="none"
    )
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


def save_checkpoint(
    model, head: PretrainHead, folder: str | Path, meta: dict, weights_dtype: torch.dtype | None = None
) -> None:
    """``save_pretrained`` (safetensors) + head + pretrain.json + a feature-extractor config.

    ``weights_dtype``: store the model's floating-point weights in this dtype (float16 for the
    checkpoints along pretraining, half their disk; issue 28); :func:`load_checkpoint` always
    loads float32."""
    from safetensors.torch import save_file
    from transformers import Wav2Vec2FeatureExtractor

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = None
    if weights_dtype is not None:
        state = {k: v.to(weights_dtype) if v.is_floating_point() else v for k, v in model.state_dict().items()}
    model.save_pretrained(folder, safe_serialization=True, state_dict=state)
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
    head = PretrainHead(
        hidden_size or state["proj.weight"].shape[1], meta["n_clusters"], meta["final_dim"], meta["temperature"]
    )
    head.load_state_dict(state)
    return head


def load_checkpoint(folder: str | Path):
    """(model, PretrainHead, meta) of a checkpoint folder (a HubertModel or a MelHubertModel)."""
    from transformers import AutoModel

    from speechneurons.model import melhubert  # noqa: F401 (registers the log-Mel HuBERT with AutoModel)

    model = AutoModel.from_pretrained(str(folder), dtype=torch.float32)  # float16 checkpoints too
    return model, load_head(folder, model.config.hidden_size), json.loads((Path(folder) / META_FILE).read_text())


@torch.no_grad()
def masked_prediction_accuracy(
    model,
    head: PretrainHead,
    waves: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    grid: FrameGrid,
    mask_prob: float,
    mask_length: int,
    seed: int = 0,
) -> dict:
    """Masked-prediction scores of a model and its head on whole utterances (e.g. held-out ones).

    Each utterance is forwarded alone (no padding, no crop) in eval mode with a span mask drawn
    by :func:`span_mask` from ``numpy.random.default_rng(seed)``, utterance after utterance, so
    two models on the same frame grid are scored with the same masks. A frame is right when the
    argmax of the head's logits is its target (targets < 0 are left out). Returns
    ``masked_acc`` (share of masked frames right), ``unmasked_acc``, ``masked_loss`` (mean
    cross-entropy of masked frames), ``n_masked``, ``n_unmasked``, ``n_utterances``.
    """
    if getattr(model, "masked_spec_embed", None) is None:
        raise ValueError("the model has no masked_spec_embed: it was not built for masked prediction")
    if len(waves) != len(targets):
        raise ValueError("need one target array per utterance")
    rng = np.random.default_rng(seed)
    device = next(model.parameters()).device
    was_training, head_training = model.training, head.training
    spec_augment = model.config.apply_spec_augment
    model.config.apply_spec_augment = True  # load_model turns it off; the given mask needs it
    model.eval(), head.eval()
    n_m = n_u = right_m = right_u = 0
    loss_sum = 0.0
    try:
        for wave, target in zip(waves, targets, strict=True):
            n = grid.num_frames(len(wave))
            if n < 1:
                continue
            if len(target) != n:
                raise ValueError(f"{len(target)} targets for an utterance of {n} frames")
            mask = torch.from_numpy(span_mask(n, 1, mask_prob, mask_length, rng)).to(device)
            x = torch.as_tensor(np.asarray(wave, dtype=np.float32), device=device)[None]
            logits = head(model(x, mask_time_indices=mask).last_hidden_state)[0]
            y = torch.as_tensor(np.asarray(target, dtype=np.int64), device=device)
            valid = y >= 0
            right = logits.argmax(-1) == y
            m, u = mask[0] & valid, ~mask[0] & valid
            n_m, n_u = n_m + int(m.sum()), n_u + int(u.sum())
            right_m, right_u = right_m + int((right & m).sum()), right_u + int((right & u).sum())
            if m.any():
                loss_sum += nn.functional.cross_entropy(logits[m], y[m], reduction="sum").item()
    finally:
        model.config.apply_spec_augment = spec_augment
        model.train(was_training), head.train(head_training)
    return {
        "masked_acc": right_m / max(1, n_m),
        "unmasked_acc": right_u / max(1, n_u),
        "masked_loss": loss_sum / max(1, n_m),
        "n_masked": n_m,
        "n_unmasked": n_u,
        "n_utterances": len(waves),
    }
