"""Settings of one SAE training run: keys of the ``saes`` config section.

The field names are the keys of the section (``schemas/saes.schema.yaml`` holds their types,
defaults and descriptions; the dataclasses declare none). ``architecture`` is not a key: it is
one element of the section's ``architectures`` (the ``{arch}`` wildcard), given when the
settings are built, and ``k`` may be given to replace the section's ``k`` by an element of
``k_sweep``::

    settings_from(SaeSettings, section, architecture="topk", k=16)

The per-architecture subsections (``topk``, ``mutual_choice``, ``feature_choice``) become the
dataclasses defined here, one per selection rule (the rule's module uses it).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from speechneurons.config import settings_from

#: Keys of the ``saes`` section that say which SAEs the workflow trains and how it uses them
#: (read by the rules and scripts), not how one SAE is trained: not fields of :class:`SaeSettings`.
WORKFLOW_KEYS = (
    "layers",
    "architectures",
    "k_sweep",
    "sweep_layers",
    "max_eval_rows",
    "splice_layers",
    "erasure_architectures",
    "erasures",
    "probe_utterances",
    "convergence_tolerance",  # read by the findings (under-trained SAEs), not by training
)

B_PRE_INITS = ("geometric_median", "mean")
DTYPES = ("float32", "bfloat16")


@dataclass(frozen=True)
class TopKSettings:
    """TopK has no settings of its own (k is shared by every architecture)."""


@dataclass(frozen=True)
class MutualChoiceSettings:
    """Keys of ``saes.mutual_choice``: batch top-k, the M = k N largest entries of the batch."""

    inference: str

    def __post_init__(self) -> None:
        if self.inference not in ("threshold", "batch"):
            raise ValueError(f"saes.mutual_choice.inference must be 'threshold' or 'batch', not {self.inference!r}")


@dataclass(frozen=True)
class FeatureChoiceSettings:
    """Keys of ``saes.feature_choice`` (both feature-choice architectures, uniform and Zipf
    capacities): latent i keeps its m_i largest tokens of the batch, sum_i m_i = k N."""

    inference: str

    def __post_init__(self) -> None:
        if self.inference not in ("threshold", "batch", "topk"):
            raise ValueError(
                f"saes.feature_choice.inference must be 'threshold', 'batch' or 'topk', not {self.inference!r}"
            )


#: config subsection -> its settings class
SUBSECTIONS = {"topk": TopKSettings, "mutual_choice": MutualChoiceSettings, "feature_choice": FeatureChoiceSettings}


@dataclass(frozen=True)
class SaeSettings:
    """Everything that decides one trained SAE besides the data, the seed and the device."""

    architecture: str
    """Selection rule, a key of :data:`speechneurons.saes.registry.SAE_ARCHITECTURES` (not a config
    key: given when the settings are built; checked where the rule is built,
    :func:`~speechneurons.saes.registry.selector_class`)."""
    expansion_factor: float
    k: int
    lr: float
    lr_warmup_steps: int
    lr_decay_share: float
    steps: int
    batch_size: int
    b_pre_init: str
    encoder_init_scale: float
    auxk_coef: float
    k_aux: int
    dead_tokens: int
    aux_zipf_coef: float
    zipf_exponent: float
    ema_decay: float
    dtype: str
    topk: TopKSettings
    mutual_choice: MutualChoiceSettings
    feature_choice: FeatureChoiceSettings

    def __post_init__(self) -> None:
        for name, cls in SUBSECTIONS.items():  # subsections arrive as the config's dicts
            value = getattr(self, name)
            if isinstance(value, Mapping):
                object.__setattr__(self, name, settings_from(cls, value))
        if self.b_pre_init not in B_PRE_INITS:
            raise ValueError(f"saes.b_pre_init must be one of {B_PRE_INITS}, not {self.b_pre_init!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"saes.dtype must be one of {DTYPES}, not {self.dtype!r}")
        if self.k < 1 or self.batch_size < 1 or self.steps < 0 or self.expansion_factor <= 0:
            raise ValueError("saes: need k >= 1, batch_size >= 1, steps >= 0 and expansion_factor > 0")
        if self.encoder_init_scale <= 0:
            raise ValueError("saes: need encoder_init_scale > 0")
        if not 0 <= self.ema_decay < 1 or not 0 <= self.lr_decay_share <= 1:
            raise ValueError("saes: need 0 <= ema_decay < 1 and 0 <= lr_decay_share <= 1")

    def n_latents(self, d_in: int) -> int:
        """F = round(expansion_factor * D), at least k."""
        return max(self.k, int(round(self.expansion_factor * d_in)))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (the ``settings.json`` saved beside the weights)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SaeSettings:
        """Inverse of :meth:`to_dict`."""
        return settings_from(cls, d)
