"""The settings of the model stage (model size and pretraining), in a module without torch: the
workflow's rules import them to build their params while the DAG is built, which must not
import torch (a no-op rerun would pay for it)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSettings:
    """Front-end, size and masking of the pretrained model: keys of the ``pretrain`` config
    section (schemas/pretrain.schema.yaml has their meanings and defaults)."""

    frontend: str
    n_mels: int
    conv_dim: int
    hidden_size: int
    num_layers: int
    num_heads: int
    intermediate_size: int
    stable_layer_norm: bool
    conv_pos_kernel: int
    conv_pos_groups: int
    dropout: float
    mask_prob: float
    mask_length: int


@dataclass(frozen=True)
class TrainSettings:
    """Optimisation and objective: keys of the ``pretrain`` config section
    (schemas/pretrain.schema.yaml has their meanings and defaults)."""

    batch_size: int
    max_crop_s: float
    lr: float
    warmup_fraction: float
    schedule: str
    weight_decay: float
    grad_clip: float
    mask_prob: float
    mask_length: int
    unmasked_weight: float
    final_dim: int
    temperature: float
    log_every: int
