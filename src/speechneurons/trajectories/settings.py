"""Settings of the layer-wise analysis: the ``trajectories`` config section as frozen dataclasses.

Field names are exactly the config keys; the defaults, types and descriptions live only in
``schemas/trajectories.schema.yaml``. Build them from a validated (defaults filled) section
with :meth:`TrajectoriesSettings.from_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any


def _take(cls, section: Mapping[str, Any], **nested):
    names = [f.name for f in fields(cls)]
    missing = [n for n in names if n not in section]
    unknown = [k for k in section if k not in names]
    if missing or unknown:
        raise KeyError(f"{cls.__name__}: missing keys {missing}, unknown keys {unknown}")
    values = {n: nested.get(n, section[n]) for n in names}
    return cls(**{n: tuple(v) if isinstance(v, list) else v for n, v in values.items()})


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

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> PWCCASettings:
        return _take(cls, section)


@dataclass(frozen=True)
class ResetTopSettings:
    """``trajectories.reset_top``: CTC phone fine-tuning with the top layers re-initialised."""

    checkpoint: str
    n_reset: tuple[int, ...]
    steps: int
    batch_size: int
    max_crop_s: float
    lr: float
    weight_decay: float
    warmup_fraction: float
    grad_clip: float
    max_train_utterances: int
    bootstrap: int
    confidence: float

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> ResetTopSettings:
        return _take(cls, section)


@dataclass(frozen=True)
class TrajectoriesSettings:
    """The ``trajectories`` section."""

    checkpoints: tuple[str, ...]
    layers: tuple[int, ...]
    splits: tuple[str, ...]
    max_utterances: int
    pwcca: PWCCASettings
    reset_top: ResetTopSettings

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> TrajectoriesSettings:
        return _take(
            cls,
            section,
            pwcca=PWCCASettings.from_config(section["pwcca"]),
            reset_top=ResetTopSettings.from_config(section["reset_top"]),
        )
