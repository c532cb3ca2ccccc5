"""Planted concept units: FFN units written into one layer to fire on stated dissection concepts
(a phone, a pitch bin, a word position), and their null twin (docs/positive-controls.md).

The positive control of the network dissection (AND, Wu et al. 2024): a unit planted to fire on
``phone=AH`` must get ``phone=AH`` as its top concept and in its description.

- A **stated concept** is a concept name of the dissection, ``attribute=value`` (e.g.
  ``phone=AH``, ``pitch=high``, ``word_position=initial``), read on the base model's phone
  items (``dissection/<base>/final/items/phone.parquet``: one item per row of the activation
  dump, the same attributes the dissection reads), so a planted concept is by construction one
  of the dissection's own columns.
- Signal ``concept``: one group per stated concept, its frames those of the items with the value.
  Signal ``concept_null`` (the **null twin**): as many groups, keyed to speaker identity only
  (speakers dealt at random into the groups within each gender, so no group is a gender);
  group i keeps the stated concept i of the list, which its units are *not* keyed to.
- Everything else is the construction of :mod:`speechneurons.model.plant` (its functions, not a
  copy): the discriminant direction of each group on the FFN inputs, the gain, the units drawn at
  random (the same draws for both signals: the twin replaces the same units), the write-back into
  the residual stream. The planted layer is by default the middle one, ``(L + 1) // 2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

CONCEPT_SIGNALS = ("concept", "concept_null")


@dataclass(frozen=True)
class ConceptPlantSettings:
    """Keys of a model's ``planted`` section (schemas/planted.schema.yaml) read by the concept signals."""

    signal: str
    units_per_group: int
    layers: tuple[int, ...]
    gain: float
    write_scale: float
    max_utterances: int
    concepts: tuple[str, ...]


def concept_layers(requested: Sequence[int], num_layers: int) -> list[int]:
    """The planted layers of the concept signals: ``requested``, or the middle layer."""
    layers = sorted({int(x) for x in requested}) or [max(1, (int(num_layers) + 1) // 2)]
    bad = [x for x in layers if not 1 <= x <= num_layers]
    if bad:
        raise ValueError(f"planted layers {bad} do not exist: the model has layers 1..{num_layers}")
    return layers


def parse_concept(name: str) -> tuple[str, str]:
    """``attribute=value`` -> (attribute, value)."""
    attribute, sep, value = str(name).partition("=")
    if not sep or not attribute or not value:
        raise ValueError(f"a planted concept is 'attribute=value' as the dissection names it (phone=AH), not {name!r}")
    return attribute, value


def concept_mask(items: pd.DataFrame, name: str) -> np.ndarray:
    """[N] bool: the items that have the concept ``name`` (an item without the attribute, e.g. the
    pitch of an unvoiced phone, has none). Clear errors for an attribute the items lack or a
    value no item has."""
    attribute, value = parse_concept(name)
    if attribute not in items:
        raise ValueError(f"planted concept {name!r}: the phone items have no attribute {attribute!r}")
    column = items[attribute].to_numpy(dtype=object)
    mask = np.array([x is not None and x == x and str(x) == value for x in column], dtype=bool)
    if not mask.any():
        found = sorted({str(x) for x in column if x is not None and x == x})[:12]
        raise ValueError(f"planted concept {name!r}: no item has {attribute}={value} (values: {found} ...)")
    return mask


def speaker_groups(speakers: np.ndarray, gender: np.ndarray, n: int, seed: int) -> np.ndarray:
    """[N] group code 0..n-1: speakers dealt at random into n groups within each gender."""
    rng = np.random.default_rng([int(seed), 7])
    speakers, gender = np.asarray(speakers).astype(str), np.asarray(gender).astype(str)
    of: dict[str, int] = {}
    for g in np.unique(gender):
        for i, s in enumerate(rng.permutation(np.unique(speakers[gender == g]))):
            of[s] = i % n
    return np.array([of[s] for s in speakers], dtype=np.int64)


def concept_groups(
    items: pd.DataFrame, concepts: Sequence[str], signal: str, seed: int
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(group -> mask over the rows of ``items``, group -> its stated concept) of a concept
    signal (module docstring). ``items``: the phone items (speaker, gender and the concepts'
    attributes)."""
    if signal not in CONCEPT_SIGNALS:
        raise ValueError(f"planted concept signal must be one of {CONCEPT_SIGNALS}, got {signal!r}")
    concepts = list(dict.fromkeys(concepts))
    if not concepts:
        raise ValueError("planted.concepts is empty: state at least one concept (e.g. phone=AH)")
    masks = {c: concept_mask(items, c) for c in concepts}
    if signal == "concept":
        return masks, {c: c for c in concepts}
    code = speaker_groups(items["speaker"].to_numpy(), items["gender"].to_numpy(), len(concepts), seed)
    groups = {f"speakers-{i}": code == i for i in range(len(concepts))}
    return groups, {f"speakers-{i}": c for i, c in enumerate(concepts)}


def plant_concepts_(
    loaded, waves, items: pd.DataFrame, settings: ConceptPlantSettings, seed: int
) -> tuple[dict[int, dict[str, list[int]]], dict[str, str]]:
    """Plant the concept units into ``loaded.model`` (in place) from the frames of ``items``
    (rows: utt_id, frame, speaker, gender and the concepts' attributes; ``waves``: utt_id ->
    waveform). Returns (layer -> group -> units, group -> stated concept)."""
    from speechneurons.model.ffn import ffn_sites
    from speechneurons.model.plant import capture_inputs, choose_units, plant_layer_, unit_directions

    utts = list(dict.fromkeys(items["utt_id"].astype(str)))
    by_utt = dict(list(items.groupby(items["utt_id"].astype(str), sort=False)))
    ordered = pd.concat([by_utt[u] for u in utts], ignore_index=True)
    masks, stated = concept_groups(ordered, settings.concepts, settings.signal, seed)
    sites = ffn_sites(loaded.model)
    rng = np.random.default_rng([int(seed), 11])
    planted: dict[int, dict[str, list[int]]] = {}
    for layer in concept_layers(settings.layers, len(sites)):
        x = capture_inputs(loaded, [waves[u] for u in utts], [by_utt[u]["frame"].to_numpy() for u in utts], layer)
        if len(x) != len(ordered):
            raise ValueError(f"{len(ordered)} item frames but {len(x)} model frames: the items do not match the model")
        directions = unit_directions(x, masks, settings.gain)
        units = choose_units(sites[layer - 1].width, list(masks), settings.units_per_group, rng)
        plant_layer_(sites[layer - 1], directions, units, settings.write_scale, rng)
        planted[layer] = {g: units[g] for g in directions}
    return planted, stated
