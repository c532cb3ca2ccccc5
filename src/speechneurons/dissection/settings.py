"""Settings of the dissection stage: the ``dissection`` config section as frozen dataclasses.

Field names are exactly the config keys of ``schemas/dissection.schema.yaml``; there are no
defaults here (they live only in the schema). Build with :meth:`DissectionSettings.from_config`
from a section that the config loader has filled and validated.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

STREAMS = {"ties": 0, "uninterpretable_null": 1, "agreement_null": 2, "control": 3, "bootstrap": 4}


def rng(seed: int, stream: str, *more: int) -> np.random.Generator:
    """The generator of one use of ``dissection.seed``: ``default_rng([seed, STREAMS[stream], *more])``.

    Every random choice draws from its own stream, so that for instance the tie order and the
    first permutation of a null are never the same permutation.
    """
    return np.random.default_rng([int(seed), STREAMS[stream], *map(int, more)])


def _build(cls, section: Mapping[str, Any]):
    """Instantiate ``cls`` from a mapping holding exactly its fields (missing or extra keys raise)."""
    names = [f.name for f in fields(cls)]
    missing = [n for n in names if n not in section]
    extra = [k for k in section if k not in names]
    if missing or extra:
        raise ValueError(
            f"{cls.__name__}: missing keys {missing}, unknown keys {extra} "
            "(fill the section from schemas/dissection.schema.yaml first)"
        )
    return cls(**{n: section[n] for n in names})


@dataclass(frozen=True)
class LLMSettings:
    """``dissection.llm``: a local OpenAI-compatible endpoint (used only when writer is 'llm')."""

    base_url: str
    model: str
    temperature: float
    seed: int
    max_tokens: int
    timeout_s: float


@dataclass(frozen=True)
class BrowserSettings:
    """``dissection.browser``: snippet geometry and encoding of the HTML neuron browser."""

    snippet_ms: int
    utterance_snippet_ms: int
    codec: str
    sample_rate: int
    opus_compression: float
    embed: bool


@dataclass(frozen=True)
class AgreementSettings:
    """``dissection.agreement``: the permutation nulls (top-concept agreement, uninterpretable share)."""

    n_permutations: int


@dataclass(frozen=True)
class PruningSettings:
    """``dissection.pruning``: concept-specific pruning scores and their matched random control."""

    tau_fraction: float
    rate_bins: int
    n_boot: int
    ci: float


@dataclass(frozen=True)
class DissectionSettings:
    """The ``dissection`` config section (meaning of every key: the schema's descriptions)."""

    layers: tuple[int, ...]
    items: tuple[str, ...]
    splits: tuple[str, ...]
    k: int
    min_shared: int
    max_bottom_shared: int
    n_bins: int
    concepts: tuple[str, ...]
    similarity: str
    top_concepts: int
    writer: str
    seed: int
    llm: LLMSettings
    browser: BrowserSettings
    agreement: AgreementSettings
    pruning: PruningSettings

    def __post_init__(self) -> None:
        if self.min_shared > self.k:
            raise ValueError(f"dissection.min_shared ({self.min_shared}) must not exceed dissection.k ({self.k})")
        if self.max_bottom_shared >= self.k:
            raise ValueError(
                f"dissection.max_bottom_shared ({self.max_bottom_shared}) must be below dissection.k "
                f"({self.k}), or no attribute can be told apart from the bottom items"
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> DissectionSettings:
        """From a filled and validated ``dissection`` section (lists become tuples)."""
        s = dict(section)
        for key in ("layers", "items", "splits", "concepts"):
            if key in s:
                s[key] = tuple(s[key])
        s["llm"] = _build(LLMSettings, section.get("llm", {}))
        s["browser"] = _build(BrowserSettings, section.get("browser", {}))
        s["agreement"] = _build(AgreementSettings, section.get("agreement", {}))
        s["pruning"] = _build(PruningSettings, section.get("pruning", {}))
        return _build(cls, s)
