"""Settings of the layer-wise analysis: the ``trajectories`` config section
(schemas/trajectories.schema.yaml holds every key's type, default and meaning).

Frozen dataclasses without defaults whose fields are the schema keys, built with
:func:`speechneurons.config.settings_from`; a rule passes exactly the keys its job reads with
:func:`speechneurons.config.section_params`. Three objects, one per job that reads them:
:class:`SampleSettings` (the top-level keys that fix what is measured), :class:`PWCCASettings`
(``trajectories.pwcca``) and :class:`ResetTopSettings` (``trajectories.reset_top``). The
bootstrap intervals come from the ``bootstrap`` section, the probes from the ``probes`` section.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SampleSettings:
    """Keys of ``trajectories`` that fix the measured layers and utterances."""

    layers: tuple[int, ...]
    splits: tuple[str, ...]
    max_utterances: int


@dataclass(frozen=True)
class PWCCASettings:
    """``trajectories.pwcca``: held-out projection-weighted CCA."""

    views: tuple[str, ...]
    n_mels: int
    max_frames: int
    parts: int
    trials: int
    thresholds: tuple[float, ...]
    weights: str
    max_per_phone: int
    word_vocabulary: int
    word_min_count: int
    max_per_word: int
    samples_per_dim: float


@dataclass(frozen=True)
class ResetTopSettings:
    """``trajectories.reset_top``: CTC phone fine-tuning with the top layers re-initialised."""

    checkpoint: str
    n_reset: tuple[int, ...]
    steps: int
    batch_size: int
    max_crop_s: float
    lrs: tuple[float, ...]
    dev_fraction: float
    weight_decay: float
    warmup_fraction: float
    grad_clip: float
    max_train_utterances: int
