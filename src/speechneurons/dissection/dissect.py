"""Dissection of one layer for one item kind: extremes, concepts, summary, descriptions, tables.

:func:`dissect_layer` runs every step on an activation matrix [items, D] row-aligned with an
item table; :func:`write_layer` writes its outputs:

- ``neurons.tsv``: one row per neuron: layer, kind, neuron, interpretable, n_shared,
  n_bottom_shared, concepts and scores (the best ``top_concepts``, ';'-separated), description,
  top_items / top_values / bottom_items / bottom_values (item ids and activations, ';'-separated),
  top_tied / bottom_tied (items at the K-th value: more than 1 means the K items were drawn from
  a tie with the seeded tie order);
- ``shared.tsv``: the open-concept summary (layer, kind, neuron, side, attribute, value, n_top, n_bottom);
- ``similarity.npz``: S [D, M] (float32) and the concept names;
- ``summary.json``: counts, the uninterpretable share and its permutation null, settings used.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from speechneurons.dissection.concepts import ConceptMatrix, TopConcepts, concept_matrix, similarity, top_concepts
from speechneurons.dissection.describe import ItemTable
from speechneurons.dissection.items import Extremes, extremes
from speechneurons.dissection.llm import LLMWriter, llm_descriptions
from speechneurons.dissection.settings import DissectionSettings
from speechneurons.dissection.summary import OpenSummary, open_summary, uninterpretable_null
from speechneurons.dissection.writer import template_descriptions
from speechneurons.io import atomic_path, write_json, write_table

log = logging.getLogger(__name__)


class LayerDissection(NamedTuple):
    """Everything the dissection finds about one layer for one item kind."""

    layer: int
    """Layer number (1-based, as in the dump)."""
    kind: str
    """'phone' or 'utterance'."""
    extremes: Extremes
    """Top and bottom K items of each neuron."""
    concepts: ConceptMatrix
    """The closed-concept matrix of the items."""
    sim: np.ndarray
    """[D, M] similarity of each neuron with each concept."""
    top: TopConcepts
    """The best concepts of each neuron."""
    summary: OpenSummary
    """The open-concept summary."""
    descriptions: list
    """[D] one sentence per neuron."""
    null_uninterpretable: np.ndarray
    """[n_permutations] uninterpretable share with item attributes permuted across items."""


def dissect_layer(
    acts: np.ndarray, items: ItemTable, settings: DissectionSettings, layer: int, llm: LLMWriter | None = None
) -> LayerDissection:
    """Run the dissection of one layer; ``acts`` [N, D] is row-aligned with ``items.table``."""
    table = items.table
    if len(table) != len(acts):
        raise ValueError(f"{len(acts)} activation rows but {len(table)} items")
    k = min(settings.k, len(table))
    ex = extremes(acts, k, tie_seed=settings.seed)
    cm = concept_matrix(table, [a for a in settings.concepts if a in items.attributes])
    sim = similarity(settings.similarity, acts, cm.matrix)
    top = top_concepts(sim, settings.top_concepts)
    summary = open_summary(table, items.attributes, ex.top, ex.bottom, settings.min_shared, settings.max_bottom_shared)
    null = uninterpretable_null(
        table,
        items.attributes,
        ex.top,
        ex.bottom,
        settings.min_shared,
        settings.max_bottom_shared,
        settings.seed,
        settings.agreement.n_permutations,
    )
    if settings.writer == "llm":
        if llm is None:
            raise ValueError("writer is 'llm' but no LLMWriter was given")
        descriptions = llm_descriptions(llm, layer, items.kind, table["caption"].tolist(), ex.top, ex.bottom)
    else:
        descriptions = template_descriptions(summary.shared, acts.shape[1], items.kind, k, settings.min_shared)
    log.info(
        "layer %s (%s items): %d neurons, %.1f%% uninterpretable (null %.1f%%)",
        layer,
        items.kind,
        acts.shape[1],
        100 * np.mean(~summary.interpretable),
        100 * np.mean(null) if len(null) else np.nan,
    )
    return LayerDissection(layer, items.kind, ex, cm, sim, top, summary, descriptions, null)


def _join(values, fmt: str = "{}") -> list[str]:
    return [";".join(fmt.format(v) for v in row) for row in values]


def neurons_table(d: LayerDissection, items: ItemTable) -> pd.DataFrame:
    """The neurons.tsv rows of a layer dissection (see module docstring)."""
    ids = items.table["item_id"].to_numpy(dtype=object)
    names = np.array(d.concepts.names, dtype=object)
    n = d.sim.shape[0]
    return pd.DataFrame(
        {
            "layer": d.layer,
            "kind": d.kind,
            "neuron": np.arange(n),
            "interpretable": d.summary.interpretable,
            "n_shared": d.summary.n_shared,
            "n_bottom_shared": d.summary.n_bottom_shared,
            "concepts": _join(names[d.top.index]),
            "scores": _join(d.top.score, "{:.4g}"),
            "description": d.descriptions,
            "top_items": _join(ids[d.extremes.top]),
            "top_values": _join(d.extremes.top_values, "{:.4g}"),
            "bottom_items": _join(ids[d.extremes.bottom]),
            "bottom_values": _join(d.extremes.bottom_values, "{:.4g}"),
            "top_tied": d.extremes.top_tied,
            "bottom_tied": d.extremes.bottom_tied,
        }
    )


def write_layer(d: LayerDissection, items: ItemTable, out_dir: str | Path, settings: DissectionSettings) -> dict:
    """Write neurons.tsv, shared.tsv, similarity.npz and summary.json into ``out_dir``; return the summary."""
    out = Path(out_dir)
    write_table(neurons_table(d, items), out / "neurons.tsv")
    write_table(
        d.summary.shared.assign(layer=d.layer, kind=d.kind)[
            ["layer", "kind", "neuron", "side", "attribute", "value", "n_top", "n_bottom"]
        ],
        out / "shared.tsv",
    )
    with atomic_path(out / "similarity.npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, similarity=d.sim, concepts=np.array(d.concepts.names))
    null = d.null_uninterpretable
    summary = {
        "layer": d.layer,
        "kind": d.kind,
        "n_items": int(len(items.table)),
        "n_neurons": int(d.sim.shape[0]),
        "n_concepts": len(d.concepts.names),
        "k": settings.k,
        "min_shared": settings.min_shared,
        "max_bottom_shared": settings.max_bottom_shared,
        "similarity": settings.similarity,
        "writer": settings.writer,
        "uninterpretable_share": float(np.mean(~d.summary.interpretable)),
        "uninterpretable_null": [float(x) for x in null],
        "uninterpretable_null_mean": float(np.mean(null)) if len(null) else None,
        "seed": settings.seed,
        "bottom_tied_median": float(np.median(d.extremes.bottom_tied)),
        "bottom_tie_share": float(np.mean(d.extremes.bottom_tied > 1)),
        "attribute_counts": d.summary.shared[d.summary.shared["side"] == "top"]["attribute"].value_counts().to_dict(),
        "bin_edges": items.edges,
    }
    if settings.writer == "llm":
        summary["llm"] = {
            "base_url": settings.llm.base_url,
            "model": settings.llm.model,
            "temperature": settings.llm.temperature,
            "seed": settings.llm.seed,
            "max_tokens": settings.llm.max_tokens,
        }
    write_json(out / "summary.json", summary)
    return summary
