"""Sets of neurons read from the property statistic's ``neurons.json`` files, shared by the
stages that prune, erase or compare them (experiments, saes)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from speechneurons.properties.statistic import PROPERTIES


def load_property_neurons(neuron_files: Iterable[str | Path]) -> dict[int, dict]:
    """Read per-layer ``neurons.json`` files of the property stage: {layer: content}."""
    out = {}
    for path in neuron_files:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        out[int(data["layer"])] = data
    return out


def protected_neurons(neurons: Mapping[int, dict], properties: Iterable[str] = PROPERTIES) -> dict[int, list[int]]:
    """Per layer, the union of the property neurons of ``properties`` (0-based, sorted)."""
    out = {}
    for layer, data in neurons.items():
        union: set[int] = set()
        for prop in properties:
            union.update(int(j) for j in data.get("property_neurons", {}).get(prop, []))
        out[int(layer)] = sorted(union)
    return out


def group_neurons(neurons: Mapping[int, dict], prop: str, group: str) -> dict[int, np.ndarray]:
    """Per layer, the group's property neurons (exclusive group neurons), 0-based, sorted."""
    out = {}
    for layer, data in sorted(neurons.items()):
        groups = data.get("exclusive_group_neurons", {}).get(prop)
        if groups is None:
            raise KeyError(f"layer {layer}: no property {prop!r} in neurons.json")
        if group not in groups:
            raise KeyError(f"layer {layer}: property {prop!r} has no group {group!r} (groups: {sorted(groups)})")
        out[int(layer)] = np.asarray(sorted(int(j) for j in groups[group]), dtype=np.int64)
    return out


def sets_to_json(sets: Mapping[int, np.ndarray]) -> dict[str, list[int]]:
    """{layer: neurons} as JSON: layer keys as strings, neurons as ints, layers sorted."""
    return {str(layer): [int(j) for j in idx] for layer, idx in sorted(sets.items())}
