"""Settings of the dissection stage: the ``dissection`` config section as frozen dataclasses.

Field names are exactly the config keys of ``schemas/dissection.schema.yaml`` (the schema holds
their types, defaults and meanings; no default is repeated here). Each job reads one class,
built with :func:`speechneurons.config.settings_from` from the keys its rule passes:

- :class:`ItemSettings`: the describer (``dissection_items``);
- :class:`DissectionSettings`: one layer (``dissection_layer``);
- :class:`LLMSettings`: ``dissection.llm``, read only when ``writer`` is ``llm``;
- :class:`PruningSettings`: ``dissection.pruning`` (``dissection_pruning``);
- :class:`BrowserSettings`: ``dissection.browser`` (``dissection_browser``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

STREAMS = {"ties": 0, "uninterpretable_null": 1, "agreement_null": 2, "control": 3, "bootstrap": 4, "utterances": 5}


def rng(seed: int, stream: str, *more: int) -> np.random.Generator:
    """The generator of one use of ``dissection.seed``: ``default_rng([seed, STREAMS[stream], *more])``.

    Every random choice draws from its own stream, so that for instance the tie order and the
    first permutation of a null are never the same permutation.
    """
    return np.random.default_rng([int(seed), STREAMS[stream], *map(int, more)])


@dataclass(frozen=True)
class ItemSettings:
    """Keys of the ``dissection`` section that the describer reads."""

    n_bins: int


@dataclass(frozen=True)
class DissectionSettings:
    """Keys of the ``dissection`` section that the dissection of one layer reads."""

    items: tuple[str, ...]
    splits: tuple[str, ...]
    k: int
    min_shared: int
    max_bottom_shared: int
    concepts: tuple[str, ...]
    similarity: str
    top_concepts: int
    writer: str
    seed: int
    n_permutations: int

    def __post_init__(self) -> None:
        if self.min_shared > self.k:
            raise ValueError(f"dissection.min_shared ({self.min_shared}) must not exceed dissection.k ({self.k})")
        if self.max_bottom_shared >= self.k:
            raise ValueError(
                f"dissection.max_bottom_shared ({self.max_bottom_shared}) must be below dissection.k "
                f"({self.k}), or no attribute can be told apart from the bottom items"
            )


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
class PruningSettings:
    """``dissection.pruning``: concept-specific pruning against a matched random control, plus the
    dissection seed (``seed``), the bootstrap section (``resamples``, ``level``) and the matched
    controls' keys of the experiments section (``match_neighbours``, ``balance_ks``) given by the rule."""

    families: tuple[str, ...]
    top_n: int
    max_train_utterances: int
    max_test_utterances: int
    seed: int
    resamples: int
    level: float
    match_neighbours: int
    balance_ks: float


@dataclass(frozen=True)
class BrowserSettings:
    """``dissection.browser``: which neurons get a card, and the snippets' geometry and encoding."""

    n_neurons: int
    property_neurons: bool
    snippet_ms: int
    utterance_snippet_ms: int
    codec: str
    sample_rate: int
    opus_compression: float
