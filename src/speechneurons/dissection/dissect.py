"""Dissection of one layer for one item kind, and the tables of a layer.

:func:`dissect_layer` runs every step on an activation matrix [items, D] row-aligned with an
item table. The items of the selecting splits (``dissection.splits``, train by default) choose
everything: each neuron's top and bottom items, its concepts, the open-concept summary, the
description and its chance level. :func:`score_agreement` then scores the top concepts against
the property-neuron groups, on the selecting items (the description's own concepts) and on
the held-out items (the concepts recomputed on items that selected nothing).

Tables of a layer (:func:`write_layer`, paths given by the caller):

- ``neurons``: one row per (kind, neuron): layer, kind, neuron, interpretable, n_shared,
  n_bottom_shared, concepts and scores (the best ``top_concepts``, ';'-separated), description,
  top_items / top_values / bottom_items / bottom_values (item ids and activations,
  ';'-separated), top_tied / bottom_tied (items at the K-th value: more than 1 means the K
  items were drawn from a tie in the seeded tie order), property_group (the neuron's
  exclusive property-neuron groups as concepts, ';'-separated), activation_rate;
- ``shared``: the open-concept summary (layer, kind, neuron, side, attribute, value, n_top, n_bottom);
- ``similarity``: per kind, S [D, M] (float32) and the concept names (``<kind>__similarity``,
  ``<kind>__concepts``);
- ``agreement``: layer, kind, split, n_items, property, measure, n, observed, null_mean, null_sd,
  null_lo, null_hi (2.5 and 97.5 % of the null), p;
- ``summary``: per kind the counts, the uninterpretable share and its permutation null, ties.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from speechneurons.activated import activation_rate
from speechneurons.dissection.concepts import (
    ConceptMatrix,
    TopConcepts,
    concept_matrix,
    pmi_from_top,
    pmi_top_k,
    similarity,
    top_concepts,
)
from speechneurons.dissection.describe import ItemTable
from speechneurons.dissection.items import (
    Extremes,
    distinct_extremes,
    floor_tied,
    row_blocks,
    top_k_items,
    utterance_means,
)
from speechneurons.dissection.llm import LLMWriter, llm_descriptions
from speechneurons.dissection.nulls import uninterpretable_null_by_speaker
from speechneurons.dissection.scoring import agreement, agreement_null, agreement_report
from speechneurons.dissection.settings import DissectionSettings
from speechneurons.dissection.summary import OpenSummary, open_summary, uninterpretable_null
from speechneurons.dissection.writer import template_descriptions
from speechneurons.io import write_json, write_npz, write_table

log = logging.getLogger(__name__)


class LayerDissection(NamedTuple):
    """Everything the dissection finds about one layer for one item kind."""

    layer: int
    """Layer number (1-based, as in the dump)."""
    kind: str
    """'phone' or 'utterance'."""
    selected: np.ndarray
    """[N] bool: the items that selected (the configured splits)."""
    extremes: Extremes
    """Top and bottom K items of each neuron (indices into the whole item table)."""
    concepts: ConceptMatrix
    """The closed-concept matrix of the selecting items."""
    sim: np.ndarray
    """[D, M] similarity of each neuron with each concept, on the selecting items."""
    top: TopConcepts
    """The best concepts of each neuron."""
    summary: OpenSummary
    """The open-concept summary."""
    descriptions: list
    """[D] one sentence per neuron."""
    null_uninterpretable: np.ndarray
    """[n_permutations] uninterpretable share with item attributes permuted, speakers kept together
    (speaker blocks for utterance items, within speaker for phone items; across all items
    when the items have no speaker)."""


def item_groups(table: pd.DataFrame, kind: str) -> np.ndarray:
    """The group whose items a neuron's top and bottom items are drawn one each from: the
    speaker of utterance items, the utterance of phone items (each item its own group when
    the table has neither)."""
    if kind == "utterance" and "speaker" in table:
        return table["speaker"].astype(str).to_numpy()
    if "utt_id" in table:
        return table["utt_id"].astype(str).to_numpy()
    return np.arange(len(table)).astype(str)


def selecting(table: pd.DataFrame, splits: Sequence[str]) -> np.ndarray:
    """[N] bool: items of ``splits`` (every item when empty); the table needs a split column then."""
    if not splits:
        return np.ones(len(table), dtype=bool)
    if "split" not in table:
        raise ValueError("dissection.splits is set but the items have no split column; set dissection.splits: []")
    chosen = table["split"].astype(str).isin(list(splits)).to_numpy()
    if not chosen.any():
        found = sorted(table["split"].astype(str).unique())
        raise ValueError(f"no item is in dissection.splits {list(splits)} (the items' splits: {found})")
    return chosen


def dissect_layer(
    acts: np.ndarray,
    items: ItemTable,
    settings: DissectionSettings,
    layer: int,
    llm: LLMWriter | None = None,
) -> LayerDissection:
    """Dissect one layer; ``acts`` [N, D] is row-aligned with ``items.table`` (an array, a memory
    map or :class:`speechneurons.io.NpyRows`: it is read in row blocks). Only the items of
    ``settings.splits`` select; the returned item indices still refer to the whole table."""
    if len(items.table) != len(acts):
        raise ValueError(f"{len(acts)} activation rows but {len(items.table)} items")
    chosen = selecting(items.table, settings.splits)
    rows = np.flatnonzero(chosen)
    table = items.table.iloc[rows].reset_index(drop=True)
    k = min(settings.k, len(table))
    # acts is read in row blocks (the selecting rows of each): never a copy of the layer
    ex = distinct_extremes(acts, k, item_groups(table, items.kind), tie_seed=settings.seed, rows=chosen)
    ex = ex._replace(top=rows[ex.top], bottom=rows[ex.bottom])  # back to rows of the whole table
    local_top, local_bottom = np.searchsorted(rows, ex.top), np.searchsorted(rows, ex.bottom)
    cm = concept_matrix(table, [c for c in settings.concepts if c in items.attributes])
    sim = similarity(settings.similarity, acts, cm.matrix, rows=chosen)
    top = top_concepts(sim, settings.top_concepts)
    args = (table, items.attributes, local_top, local_bottom, settings.min_shared, settings.max_bottom_shared)
    summary = open_summary(*args)
    if "speaker" in table:  # keep speakers together (speechneurons.dissection.nulls)
        null = uninterpretable_null_by_speaker(*args, settings.seed, settings.n_permutations, items.kind)
    else:
        null = uninterpretable_null(*args, settings.seed, settings.n_permutations)
    if settings.writer == "llm":
        if llm is None:
            raise ValueError("writer is 'llm' but no LLMWriter was given")
        captions = items.table["caption"].tolist()
        descriptions = llm_descriptions(llm, layer, items.kind, captions, ex.top, ex.bottom)
    else:
        descriptions = template_descriptions(summary.shared, int(acts.shape[1]), items.kind, k, settings.min_shared)
    log.info(
        "layer %s (%d %s items of %s): %d neurons, %.1f%% uninterpretable (chance %.1f%%)",
        layer,
        len(table),
        items.kind,
        list(settings.splits) or "all splits",
        int(acts.shape[1]),
        100 * np.mean(~summary.interpretable),
        100 * np.mean(null) if len(null) else np.nan,
    )
    return LayerDissection(layer, items.kind, chosen, ex, cm, sim, top, summary, descriptions, null)


def score_agreement(
    d: LayerDissection,
    acts: np.ndarray,
    items: ItemTable,
    truth: pd.DataFrame,
    settings: DissectionSettings,
    level: float,
) -> pd.DataFrame:
    """Agreement of the top concepts with the property-neuron groups (``truth``), with its
    permutation null (central ``level`` range): on the selecting items (the concepts of the descriptions) and on the
    other items (the same concept columns recomputed on items that selected nothing)."""
    out = []
    held_out = ~d.selected
    labelled = np.unique(truth["neuron"].to_numpy()).astype(np.int64) if len(truth) else np.zeros(0, np.int64)
    cosine = settings.similarity in ("cos", "cos3")
    for split, mask in (("selected", d.selected), ("held_out", held_out)):
        if split == "held_out" and (not held_out.any() or not settings.splits):
            continue
        rows = np.flatnonzero(mask)
        table = items.table.iloc[rows].reset_index(drop=True)
        cm = d.concepts if split == "selected" else concept_matrix(table, None, d.concepts.names)
        # what the null reads of the activations, gathered in row blocks: the labelled neurons'
        # columns (cos, cos3 score each neuron on its own), or each neuron's top items (wpmi)
        if cosine:
            a, top = labelled_columns(acts, mask, labelled), None
        else:
            a, top = None, top_k_items(acts, pmi_top_k(settings.similarity, len(rows)), rows=mask).index
        if split == "selected":
            sim = d.sim
        elif cosine:
            sim = np.zeros_like(d.sim)
            if len(labelled):
                sim[labelled] = similarity(settings.similarity, a, cm.matrix)
        else:
            sim = pmi_from_top(settings.similarity, top, cm.matrix)
        observed = agreement(sim, cm.names, truth, settings.top_concepts)
        null = agreement_null(
            a, cm.matrix, cm.names, truth, settings.similarity, settings.seed, settings.n_permutations,
            settings.top_concepts, columns=labelled if cosine else None, top=top,
        )  # fmt: skip
        report = agreement_report(observed, null, level)
        report.insert(0, "n_items", len(rows))
        report.insert(0, "split", split)
        out.append(report)
    columns = ["split", "n_items", "property", "measure", "n", "observed", "null_mean", "null_sd", "null_lo", "null_hi",
               "p"]  # fmt: skip
    table = pd.concat(out, ignore_index=True) if out else pd.DataFrame(columns=columns)
    table.insert(0, "kind", d.kind)
    table.insert(0, "layer", d.layer)
    return table


def labelled_columns(acts, rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """acts[rows][:, columns] as float32 [n rows, len(columns)], read in row blocks: the only
    per-item copy of a layer the dissection keeps (the labelled neurons' columns, for the
    agreement null)."""
    parts = [x[:, columns] for _, x in row_blocks(acts, rows)] if len(columns) else []
    return np.concatenate(parts) if parts else np.zeros((int(np.count_nonzero(rows)), len(columns)), np.float32)


def _join(values, fmt: str = "{}") -> list[str]:
    return [";".join(fmt.format(v) for v in row) for row in values]


def neurons_table(
    d: LayerDissection, items: ItemTable, truth: pd.DataFrame | None = None, rate: np.ndarray | None = None
) -> pd.DataFrame:
    """The neuron rows of a layer dissection (see module docstring)."""
    ids = items.table["item_id"].to_numpy(dtype=object)
    names = np.array(d.concepts.names, dtype=object)
    n = d.sim.shape[0]
    groups = [""] * n
    if truth is not None and len(truth):
        by_neuron = truth.groupby("neuron")["concept"].agg(lambda c: ";".join(sorted(c)))
        for j, g in by_neuron.items():
            groups[int(j)] = g
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
            "property_group": groups,
            "activation_rate": np.full(n, np.nan) if rate is None else np.asarray(rate, dtype=float),
        }
    )


def layer_summary(d: LayerDissection, items: ItemTable, settings: DissectionSettings) -> dict:
    """Counts, the uninterpretable share and its chance level, and the ties of one kind."""
    null = d.null_uninterpretable
    shared = d.summary.shared
    return {
        "layer": d.layer,
        "kind": d.kind,
        "n_items": int(d.selected.sum()),
        "n_held_out": int((~d.selected).sum()),
        "splits": list(settings.splits),
        "n_neurons": int(d.sim.shape[0]),
        "n_concepts": len(d.concepts.names),
        "uninterpretable_share": float(np.mean(~d.summary.interpretable)),
        "uninterpretable_null": [float(x) for x in null],
        "uninterpretable_null_mean": float(np.mean(null)) if len(null) else None,
        "bottom_tied_median": float(np.median(d.extremes.bottom_tied)),
        "bottom_tie_share": float(np.mean(d.extremes.bottom_tied > 1)),
        "bottom_floor_tied": int(floor_tied(d.extremes).sum()),
        "extremes_distinct_by": "speaker" if d.kind == "utterance" else "utterance",
        "attribute_counts": shared[shared["side"] == "top"]["attribute"].value_counts().to_dict(),
        "bin_edges": items.edges,
    }


class LayerTables(NamedTuple):
    """The tables of one dissected layer, every kind together (see :func:`write_layer`)."""

    dissections: list
    """One :class:`LayerDissection` per item kind."""
    neurons: pd.DataFrame
    agreement: pd.DataFrame
    summary: dict


def dissect_dump_layer(
    acts: np.ndarray,
    phones: ItemTable,
    utterances: ItemTable | None,
    truth: pd.DataFrame,
    settings: DissectionSettings,
    layer: int,
    tau: int,
    level: float,
    llm: LLMWriter | None = None,
) -> LayerTables:
    """Every configured item kind of one layer of a ``mid`` dump (rows = ``phones.table``).

    Utterance items are the mean over their utterance's rows (in order of first appearance,
    the order of the utterance table). The activation rate of each neuron (share of the
    selecting phone items at which it is among the ``tau`` largest |activations| of the layer)
    is what the pruning's random control is matched on. ``level``: the central range of the
    agreement null reported next to each share.
    """
    if len(phones.table) != len(acts):
        raise ValueError(f"the dump has {len(acts)} rows but the phone item table {len(phones.table)}")
    rate = activation_rate(acts, tau, rows=selecting(phones.table, settings.splits))
    kinds = {"phone": (lambda: acts, phones)}
    if "utterance" in settings.items:
        if utterances is None:
            raise ValueError("dissection.items has 'utterance' but no utterance items were given")

        def means():
            um = utterance_means(acts, phones.table["utt_id"].to_numpy())
            if list(um.utt_ids) != utterances.table["utt_id"].tolist():
                raise ValueError("the utterance items are not the utterances of the dump in order; rebuild them")
            return um.means

        kinds["utterance"] = (means, utterances)
    dissections, neurons, agreements, summary = [], [], [], {"layer": layer, "tau": tau, "kinds": {}}
    for kind in settings.items:
        get, items = kinds[kind]
        a = get()
        d = dissect_layer(a, items, settings, layer, llm)
        dissections.append(d)
        neurons.append(neurons_table(d, items, truth, rate))
        agreements.append(score_agreement(d, a, items, truth, settings, level))
        summary["kinds"][kind] = layer_summary(d, items, settings)
    if settings.writer == "llm" and llm is not None:
        s = llm.settings
        summary["llm"] = {"base_url": s.base_url, "model": s.model, "temperature": s.temperature, "seed": s.seed,
                          "max_tokens": s.max_tokens, "asked": llm.asked, "cached": llm.cached}  # fmt: skip
    return LayerTables(dissections, pd.concat(neurons, ignore_index=True), pd.concat(agreements, ignore_index=True),
                       summary)  # fmt: skip


def write_layer(
    tables: LayerTables,
    *,
    neurons: str | Path,
    shared: str | Path,
    similarity: str | Path,
    agreement: str | Path,
    summary: str | Path,
) -> None:
    """Write the tables of one layer (every kind) to the given paths (see module docstring)."""
    write_table(tables.neurons, neurons)
    columns = ["layer", "kind", "neuron", "side", "attribute", "value", "n_top", "n_bottom"]
    rows = [d.summary.shared.assign(layer=d.layer, kind=d.kind)[columns] for d in tables.dissections]
    write_table(pd.concat(rows, ignore_index=True), shared)
    arrays = {}
    for d in tables.dissections:
        arrays[f"{d.kind}__similarity"] = d.sim
        arrays[f"{d.kind}__concepts"] = np.array(d.concepts.names)
    write_npz(similarity, arrays)
    write_table(tables.agreement, agreement)
    write_json(summary, tables.summary)
