"""Settings of one SAE training run, built from the ``saes`` config section.

The field names are the keys of the section (``schemas/saes.schema.yaml`` holds their
defaults and descriptions); ``architecture`` is one element of the section's
``architectures`` list, and ``k`` may be replaced by an element of ``k_sweep``. The
per-architecture subsections (``topk``, ``mutual_choice``, ``feature_choice``) become the
dataclasses defined beside each selection rule.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Keys of the ``saes`` section that concern the workflow (which layers, which runs), not the
#: training of one SAE; they are not fields of :class:`SaeSettings`.
WORKFLOW_KEYS = ("layers", "site", "rows", "architectures", "k_sweep", "sweep_layers", "max_eval_rows", "device")

B_PRE_INITS = ("geometric_median", "mean")
DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class TopKSettings:
    """TopK has no settings of its own (k is shared by every architecture)."""


@dataclass(frozen=True)
class MutualChoiceSettings:
    """Mutual choice (batch top-k): the M = k N largest entries of the batch's N x F matrix."""

    inference: str
    """'threshold': keep pre-activations above theta, the EMA of the smallest kept value during
    training (one token at a time, no batch dependence); 'batch': apply the training rule to the
    evaluation batch."""

    def __post_init__(self) -> None:
        if self.inference not in ("threshold", "batch"):
            raise ValueError(f"mutual_choice.inference must be 'threshold' or 'batch', not {self.inference!r}")


@dataclass(frozen=True)
class FeatureChoiceSettings:
    """Feature choice: latent i keeps its m_i largest tokens of the batch, sum_i m_i = k N."""

    capacity: str
    """'uniform': m_i = k N / F; 'zipf': m_i proportional to rank_i ** -zipf_exponent, ranks by
    an EMA of each latent's firing rate (both capped at N and rounded so that they sum to k N)."""
    inference: str
    """'threshold': latent i fires where its pre-activation exceeds theta_i, the EMA of the
    smallest value it kept during training; 'batch': the training rule on the evaluation batch;
    'topk': per-token top-k."""

    def __post_init__(self) -> None:
        if self.capacity not in ("uniform", "zipf"):
            raise ValueError(f"feature_choice.capacity must be 'uniform' or 'zipf', not {self.capacity!r}")
        if self.inference not in ("threshold", "batch", "topk"):
            raise ValueError(f"feature_choice.inference must be 'threshold', 'batch' or 'topk', not {self.inference!r}")


@dataclass(frozen=True)
class SaeSettings:
    """Everything that decides one trained SAE (besides the data, the seed and the device)."""

    architecture: str
    """Selection rule, a key of :data:`speechneurons.saes.ARCHITECTURES`."""
    expansion_factor: float
    """F / D: latents per input dimension (F = round(expansion_factor * D))."""
    k: int
    """Budget: k latents per token on average (TopK: exactly k per token; M = k N per batch)."""
    lr: float
    """Adam learning rate (after warm-up, before the final linear decay)."""
    lr_warmup_steps: int
    """Steps of linear learning-rate warm-up from 0."""
    lr_decay_share: float
    """Share of the steps, at the end, over which the learning rate decays linearly to 0."""
    steps: int
    """Optimiser steps."""
    batch_size: int
    """Tokens (activation rows) per step, N."""
    b_pre_init: str
    """'geometric_median' or 'mean' of (a sample of) the training rows."""
    encoder_init_scale: float
    """W_enc starts as encoder_init_scale * W_dec^T (1 = the transpose, as OpenAI; sparsify's
    default nn.Linear init has rows of norm ~0.577)."""
    auxk_coef: float
    """Weight of the aux-k loss (OpenAI: 1/32); 0 switches it off."""
    k_aux: int
    """Dead latents per token in the aux-k (and aux-zipf) reconstruction; 0 = D // 2."""
    dead_tokens: int
    """A latent is dead after this many training tokens without firing."""
    aux_zipf_coef: float
    """Weight of the aux-zipf loss (under-used latents, relative to a Zipf law of density over
    rank, reconstruct the residual); 0 switches it off."""
    zipf_exponent: float
    """Exponent s of the Zipf law density_r proportional to r ** -s used by feature choice's
    'zipf' capacities and by the aux-zipf loss."""
    ema_decay: float
    """Decay of the exponential moving averages (thresholds, latent usage) per step."""
    dtype: str
    """'float32', or 'bfloat16' autocast of the dense encoder product (for GPUs)."""
    topk: TopKSettings
    """Settings of the TopK rule."""
    mutual_choice: MutualChoiceSettings
    """Settings of the mutual-choice rule."""
    feature_choice: FeatureChoiceSettings
    """Settings of the feature-choice rule."""

    def __post_init__(self) -> None:
        from .registry import ARCHITECTURES

        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"unknown SAE architecture {self.architecture!r}; known: {sorted(ARCHITECTURES)}")
        if self.b_pre_init not in B_PRE_INITS:
            raise ValueError(f"b_pre_init must be one of {B_PRE_INITS}, not {self.b_pre_init!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, not {self.dtype!r}")
        if self.k < 1 or self.batch_size < 1 or self.steps < 0 or self.expansion_factor <= 0:
            raise ValueError("need k >= 1, batch_size >= 1, steps >= 0 and expansion_factor > 0")
        if self.encoder_init_scale <= 0:
            raise ValueError("need encoder_init_scale > 0")
        if not 0 <= self.ema_decay < 1 or not 0 <= self.lr_decay_share <= 1:
            raise ValueError("need 0 <= ema_decay < 1 and 0 <= lr_decay_share <= 1")

    def n_latents(self, d_in: int) -> int:
        """F = round(expansion_factor * D), at least k."""
        return max(self.k, int(round(self.expansion_factor * d_in)))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SaeSettings:
        """Inverse of :meth:`to_dict` (the JSON saved next to the weights)."""
        d = dict(d)
        d["topk"] = TopKSettings(**d["topk"])
        d["mutual_choice"] = MutualChoiceSettings(**d["mutual_choice"])
        d["feature_choice"] = FeatureChoiceSettings(**d["feature_choice"])
        return cls(**d)

    @classmethod
    def from_config(cls, section: Mapping[str, Any], architecture: str, k: int | None = None) -> SaeSettings:
        """Settings for one run from a validated ``saes`` section (defaults filled in):
        ``architecture`` from its ``architectures``, ``k`` (default: the section's ``k``) from
        its ``k`` or ``k_sweep``."""
        fields = {f.name for f in dataclasses.fields(cls)} - {"architecture"}
        d = {key: section[key] for key in fields}
        d["architecture"] = architecture
        if k is not None:
            d["k"] = int(k)
        return cls.from_dict(d)


def default_section() -> dict[str, Any]:
    """The ``saes`` section with every default filled in, from ``schemas/saes.schema.yaml``."""
    from ..config import SCHEMA_DIR, validate_config

    return validate_config({}, SCHEMA_DIR / "saes.schema.yaml")
