"""The positive control of the network dissection: are units planted to fire on a stated concept
named by it (docs/positive-controls.md, speechneurons.model.plant_concepts)?

A planted concept model's ``planted.json`` lists its units per layer and group and each group's
stated concept (``stated``). For every planted unit, on the phone items of its layer's dissection
(neurons.tsv and shared.tsv of the checkpoint the findings read):

- **named by its top concept**: its best concept (the first of ``concepts``) is the stated one;
- **named by its description**: the stated value is among the values that describe its top
  (shared.tsv, side ``top``: at least ``min_shared`` of its top K items have it and at most
  ``max_bottom_shared`` of its bottom K), the values the template description is written from.

Each gives one findings row: effect = the share of planted units named, minus the same share
with the unit-to-concept assignment permuted (the units' names stay, their stated concepts are
shuffled among them: the chance that a unit is named by a concept of the list at all), in
points; chance range: the null's central ``level`` range around its mean; verdict
``verdict_above_chance``. On the planted model both should hold; on its null twin (the same
units keyed to speaker groups, the same stated concepts) they should not.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.findings.claims import UNMEASURED, Finding, no_numbers, verdict_above_chance
from speechneurons.findings.dissection import STUDY

KIND = "phone"
HOW = {
    "top": ("top concept", "whose best concept is its stated concept"),
    "description": ("description", "whose description (the values its top items share) names its stated concept"),
}
PAPER = (
    "positive control, not a claim of AND: a unit written into the model to fire on a stated concept "
    "(a phone, a pitch bin, a word position) must be named by it"
)
SOURCE = "models/<model>/planted/planted.json; dissection/<model>/<checkpoint>/layer-*/neurons.tsv, shared.tsv"


def planted_units(doc: Mapping) -> pd.DataFrame:
    """The planted units of a planted.json with a stated concept: layer, neuron, group, stated
    (empty when the model plants no dissection concept)."""
    stated = doc.get("stated") or {}
    rows = [
        (int(layer), int(unit), str(group), str(stated[group]))
        for layer, groups in (doc.get("units") or {}).items()
        for group, units in groups.items()
        if group in stated
        for unit in units
    ]
    return pd.DataFrame(rows, columns=["layer", "neuron", "group", "stated"])


def unit_names(units: pd.DataFrame, neurons: pd.DataFrame, shared: pd.DataFrame, kind: str = KIND) -> pd.DataFrame:
    """``units`` with what the dissection says of each (``kind`` items): dissected (its layer
    was), top_concept, description, described_by (the values describing its top, ';'-separated),
    named_top, named_description."""
    out = units.copy()
    n = neurons[neurons["kind"] == kind].set_index(["layer", "neuron"]) if len(neurons) else None
    sh = shared[(shared["kind"] == kind) & (shared["side"] == "top")] if len(shared) else shared
    values = {}
    for r in sh.itertuples(index=False):
        values.setdefault((int(r.layer), int(r.neuron)), []).append(f"{r.attribute}={r.value}")
    keys = list(zip(out["layer"].astype(int), out["neuron"].astype(int)))
    out["dissected"] = [n is not None and k in n.index for k in keys]
    out["top_concept"] = [str(n.loc[k, "concepts"]).split(";")[0] if d else "" for k, d in zip(keys, out["dissected"])]
    out["description"] = [str(n.loc[k, "description"]) if d else "" for k, d in zip(keys, out["dissected"])]
    out["described_by"] = [";".join(values.get(k, [])) for k in keys]
    out["named_top"] = out["top_concept"] == out["stated"]
    out["named_description"] = [s in values.get(k, []) for s, k in zip(out["stated"], keys)]
    return out


def named_share(stated: Sequence[str], names: Sequence[set]) -> float:
    """Share of units whose stated concept is among its names."""
    return float(np.mean([s in n for s, n in zip(stated, names, strict=True)])) if len(stated) else math.nan


def assignment_null(stated: Sequence[str], names: Sequence[set], n_permutations: int, seed: int) -> np.ndarray:
    """[n_permutations] named share with the stated concepts permuted among the units (seeded)."""
    rng = np.random.default_rng([int(seed), 29])
    stated = np.asarray(stated, dtype=object)
    return np.array([named_share(stated[rng.permutation(len(stated))], names) for _ in range(int(n_permutations))])


def claim_named(table: pd.DataFrame, how: str, n_permutations: int, seed: int, level: float) -> Finding:
    """One findings row (module docstring); ``table``: :func:`unit_names`; ``how``: top or description."""
    word, what = HOW[how]
    common = dict(study=STUDY, claim=f"Units planted on a stated concept are named by it ({word})", paper=PAPER,
                  measure=f"share of planted units {what}, minus the same with the unit-to-concept assignment "
                          "permuted (points)",
                  source=SOURCE)  # fmt: skip
    missing = sorted(set(table.loc[~table["dissected"], "layer"].astype(int)))
    if missing or not len(table):
        why = f"planted layers {missing} were not dissected (dissection.layers)" if missing else "no planted unit"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if n_permutations < 1:
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why="no permutation null (n_permutations is 0)"))
    if how == "top":
        names = [{c} for c in table["top_concept"]]
    else:
        names = [set(v.split(";")) if v else set() for v in table["described_by"]]
    observed = named_share(table["stated"].tolist(), names)
    null = assignment_null(table["stated"].tolist(), names, n_permutations, seed)
    mean = float(null.mean())
    lo, hi = np.quantile(null, [(1 - level) / 2, (1 + level) / 2])
    value, c_lo, c_hi = 100 * (observed - mean), 100 * (lo - mean), 100 * (hi - mean)
    verdict, why = verdict_above_chance(value, c_lo, c_hi)
    per = table.groupby("stated", sort=False)[f"named_{how}"].agg(["sum", "size"])
    why += (
        f"; {int(round(observed * len(table)))} of {len(table)} planted units named ({100 * observed:.0f} %) against "
        f"{100 * mean:.0f} % [{100 * lo:.0f}, {100 * hi:.0f}] with the assignment permuted ({n_permutations} "
        "permutations); by stated concept: "
    )
    why += ", ".join(f"{c} {int(r['sum'])}/{int(r['size'])}" for c, r in per.iterrows())
    if how == "top":
        others = table.loc[~table["named_top"], "top_concept"].value_counts()
        if len(others):
            why += "; best concept otherwise: " + ", ".join(f"{c} ({k})" for c, k in others.items())
    return Finding(**common, value=value, ci_low=math.nan, ci_high=math.nan, chance_low=c_lo, chance_high=c_hi,
                   verdict=verdict, why=why)  # fmt: skip


def planted_concept_findings(
    doc: Mapping | None,
    neurons: Sequence[pd.DataFrame],
    shared: Sequence[pd.DataFrame],
    n_permutations: int,
    seed: int,
    level: float,
) -> list[Finding]:
    """The two rows of a planted concept model (module docstring); none for any other model
    (``doc``: its planted.json, None when it is no planted model)."""
    units = planted_units(doc or {})
    if units.empty:
        return []
    table = unit_names(
        units,
        pd.concat(list(neurons), ignore_index=True) if len(neurons) else pd.DataFrame(),
        pd.concat(list(shared), ignore_index=True) if len(shared) else pd.DataFrame(),
    )
    return [claim_named(table, how, n_permutations, seed, level) for how in HOW]
