"""Files of the properties stage: reading the dump of one layer, writing the statistics of a
layer, and the summary over layers. File names are the caller's (the workflow's layout)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.errors import BadInputError
from speechneurons.io import NpyRows, load_rows, read_json, read_table, write_json, write_npz, write_table
from speechneurons.phones import PHONE_TYPES, PHONES
from speechneurons.properties.statistic import (
    PROPERTIES,
    VENN3_ORDER,
    LayerProperties,
    set_counts,
    venn3_regions,
)


def load_dump(mid_path: str | Path, index_path: str | Path) -> tuple[NpyRows, pd.DataFrame]:
    """Open ``mid.npy`` to be read in row blocks (:class:`speechneurons.io.NpyRows`: no memory
    map, whose pages would stay in the job's resident set) and read its index; clear errors for
    unusable files."""
    acts = load_rows(mid_path)  # checked: a damaged file names the rebuild command
    if acts.ndim != 2 or acts.shape[1] < 1:
        raise BadInputError(
            mid_path, f"has shape {acts.shape}, expected [n_frames, D]", "rerun the activation dump for this layer"
        )
    index = read_table(index_path)
    return acts, index


def npz_key(kind: str, prop: str, group: str) -> str:
    """Key of an array in P.npz, e.g. 'P__phone_type__vowel'."""
    return f"{kind}__{prop}__{group}"


def write_layer(
    lp: LayerProperties, *, neurons: str | Path, P: str | Path, R: str | Path, counts: str | Path, skipped: str | Path
) -> None:
    """Write the statistics of one layer to the given paths (neurons.json, P.npz, R.parquet,
    counts.tsv, skipped.tsv in the workflow's layout).

    - P.npz: ``phones`` [39] (row order), and per group ``P__<prop>__<group>`` float32 [39, D]
      (NaN where the phone has no frame in the group), ``A__<prop>__<group>`` int64 [39, D]
      (frames activating j), ``n__<prop>__<group>`` int64 [39] (frames).
    - R.parquet: one row per (property, group, neuron): ``property, group, neuron, n_selective
      (|{c in C_g : j in S(c,g)}|), n_phones (|C_g|), R, group_neuron, exclusive``.
    - counts.tsv: ``property, group, phone, n_frames, in_C``.
    - skipped.tsv: ``reason, n_frames`` (bad rows left out with on_bad_input: skip).
    """
    arrays: dict[str, np.ndarray] = {"phones": np.array(PHONES)}
    r_rows, c_rows = [], []
    neuron_ids = np.arange(lp.D)
    for (prop, g), p_cg in lp.P.items():
        key = (prop, g)
        arrays[npz_key("P", prop, g)] = p_cg
        arrays[npz_key("A", prop, g)] = lp.active[key]
        arrays[npz_key("n", prop, g)] = lp.frames[key]
        gset = np.zeros(lp.D, dtype=bool)
        gset[lp.group_neurons[prop][g]] = True
        eset = np.zeros(lp.D, dtype=bool)
        eset[lp.exclusive_group_neurons[prop][g]] = True
        r_rows.append(
            pd.DataFrame(
                {
                    "property": prop,
                    "group": g,
                    "neuron": neuron_ids,
                    "n_selective": lp.n_selective[key],
                    "n_phones": int(lp.in_C[key].sum()),
                    "R": lp.R[key],
                    "group_neuron": gset,
                    "exclusive": eset,
                }
            )
        )
        c_rows.append(
            pd.DataFrame(
                {
                    "property": prop,
                    "group": g,
                    "phone": list(PHONES),
                    "n_frames": lp.frames[key],
                    "in_C": lp.in_C[key],
                }
            )
        )
    write_npz(P, arrays)
    write_table(pd.concat(r_rows, ignore_index=True), R)
    write_table(pd.concat(c_rows, ignore_index=True), counts)
    write_table(
        pd.DataFrame(
            {"reason": list(lp.skipped), "n_frames": list(lp.skipped.values())}, columns=["reason", "n_frames"]
        ),
        skipped,
    )
    write_json(neurons, lp.neurons_json())


def figure_layers(requested: Sequence[int], available: Sequence[int]) -> list[int]:
    """Layers to draw: ``requested`` (must be available), or first, middle and last."""
    available = sorted({int(l) for l in available})
    if requested:
        missing = sorted(set(requested) - set(available))
        if missing:
            raise ValueError(f"properties.venn_layers {missing} have no statistics; available: {available}")
        return sorted({int(l) for l in requested})
    if not available:
        return []
    return sorted({available[0], available[(len(available) - 1) // 2], available[-1]})


def _group_order(prop: str):
    """Sort key of group names: phone types in PHONE_TYPES order, pitch bins numerically."""
    if prop == "phone_type":
        order = list(PHONE_TYPES)
        return lambda g: (order.index(g) if g in order else len(order), g)
    return lambda g: (len(g), g)


def summary_row(neurons: Mapping, n_frames: int | None = None) -> dict:
    """One summary row from a neurons.json document.

    Columns: layer, D, tau, sigma, n_frames; ``n_<prop>`` property neurons;
    ``group_<prop>_<g>`` and ``exclusive_<prop>_<g>``; ``overlap_<a>_<b>`` = |P_a & P_b| and
    ``overlap_all`` = |P_phone & P_gender & P_pitch| (raw intersections); ``venn_<bits>`` the
    EXCLUSIVE Venn regions, bits in the order (phone_type, gender, pitch).
    """
    row = {"layer": neurons["layer"], "D": neurons["D"], "tau": neurons["tau"], "sigma": neurons["sigma"]}
    if n_frames is not None:
        row["n_frames"] = int(n_frames)
    pn = {p: set(neurons["property_neurons"][p]) for p in PROPERTIES}
    counts = set_counts(pn)
    row |= {f"n_{p}": counts[f"n_{p}"] for p in PROPERTIES}
    for kind in ("group", "exclusive"):
        src = neurons[f"{kind}_neurons" if kind == "group" else "exclusive_group_neurons"]
        for p in PROPERTIES:
            for g in sorted(src[p], key=_group_order(p)):
                row[f"{kind}_{p}_{g}"] = len(src[p][g])
    row |= {k: v for k, v in counts.items() if k.startswith("overlap_")}
    for bits, size in zip(VENN3_ORDER, venn3_regions(*(pn[p] for p in PROPERTIES))):
        row[f"venn_{bits}"] = size
    return blank_not_computable(row, neurons.get("not_computable", {}))


def blank_not_computable(row: dict, missing: Mapping[str, str]) -> dict:
    """Blank (NaN) every count of ``row`` that involves a property the data cannot give (e.g.
    gender with one gender), its chance and interval columns too, so that nothing that looks
    like a result is written; the ``not_computable`` column says why."""
    for col in list(row):
        base = col
        for prefix in ("chance_low_", "chance_high_", "chance_", "ci_low_", "ci_high_", "p_", "null_draws_"):
            base = base.removeprefix(prefix)
        if any(
            base.startswith(f"n_{p}")
            or base.startswith(f"exclusive_{p}_")
            or (base.startswith("overlap_") and (p in base or base == "overlap_all"))
            for p in missing
        ) or (missing and base.startswith("venn_")):
            row[col] = float("nan")
    row["not_computable"] = "; ".join(missing.values())
    return row


def summarize(
    neuron_files: Sequence[str | Path],
    count_files: Sequence[str | Path],
    replicate_files: Sequence[str | Path],
    silhouette_files: Sequence[str | Path],
    level: float,
    binning_files: Sequence[str | Path] = (),
) -> pd.DataFrame:
    """The summary table over layers from each layer's neurons.json and counts.tsv (same order),
    with, when given: the chance level, rank p-value and bootstrap interval of every set size
    (:func:`speechneurons.properties.nulls.chance_columns`, from replicates.tsv), the silhouette of each property
    (``silhouette_<prop>``) and the pitch counts under the other pitch binning
    (``n_pitch_<binning>``, ``overlap_gender_pitch_<binning>``)."""
    if len(neuron_files) != len(count_files):
        raise ValueError("summarize needs one counts.tsv per neurons.json")
    rows = []
    for i, (neurons, counts) in enumerate(zip(neuron_files, count_files, strict=True)):
        table = read_table(counts)
        n = int(table.loc[table["property"] == "phone_type", "n_frames"].sum())
        doc = read_json(neurons)
        row = summary_row(doc, n)
        if replicate_files:
            from speechneurons.properties.nulls import chance_columns

            row |= chance_columns(read_table(replicate_files[i]), row, level)
        if silhouette_files:
            row |= {f"silhouette_{k}": v for k, v in read_json(silhouette_files[i]).items() if k != "layer"}
        if binning_files:
            for r in read_table(binning_files[i]).query("source == 'recut'").itertuples(index=False):
                row |= {f"n_pitch_{r.binning}": r.n_pitch, f"overlap_gender_pitch_{r.binning}": r.overlap_gender_pitch}
        rows.append(blank_not_computable(row, doc.get("not_computable", {})))
    return pd.DataFrame(rows).sort_values("layer").reset_index(drop=True)
