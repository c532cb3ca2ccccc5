"""Tables over the dissected layers: the uninterpretable share per layer with its chance level,
the agreement with property neurons, and the neurons that get a card in the browser."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

SUMMARY_COLUMNS = [
    "layer", "kind", "n_items", "n_neurons", "n_concepts", "uninterpretable", "uninterpretable_share",
    "chance_share", "chance_lo", "chance_hi", "n_permutations", "bottom_tie_share", "bottom_tied_median",
]  # fmt: skip


def summary_table(summaries: Sequence[dict]) -> pd.DataFrame:
    """One row per (layer, kind) from the layers' summary documents: the uninterpretable count
    and share next to the share with item attributes permuted (mean and 2.5-97.5 % range)."""
    rows = []
    for doc in summaries:
        for kind, s in doc["kinds"].items():
            null = np.asarray(s["uninterpretable_null"], dtype=float)
            rows.append(
                {
                    "layer": int(doc["layer"]),
                    "kind": kind,
                    "n_items": s["n_items"],
                    "n_neurons": s["n_neurons"],
                    "n_concepts": s["n_concepts"],
                    "uninterpretable": int(round(s["uninterpretable_share"] * s["n_neurons"])),
                    "uninterpretable_share": s["uninterpretable_share"],
                    "chance_share": float(null.mean()) if len(null) else np.nan,
                    "chance_lo": float(np.quantile(null, 0.025)) if len(null) else np.nan,
                    "chance_hi": float(np.quantile(null, 0.975)) if len(null) else np.nan,
                    "n_permutations": len(null),
                    "bottom_tie_share": s["bottom_tie_share"],
                    "bottom_tied_median": s["bottom_tied_median"],
                }
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS).sort_values(["kind", "layer"]).reset_index(drop=True)


def browser_neurons(neurons: pd.DataFrame, n_neurons: int, property_neurons: bool) -> pd.DataFrame:
    """The neuron rows that get a card: per (layer, kind) the ``n_neurons`` most interpretable
    (most values shared by the top items, then the highest top-concept score, then the lower
    index; 0 = all) and, with ``property_neurons``, every neuron of a property-neuron group."""
    if n_neurons == 0:
        return neurons.reset_index(drop=True)
    score = neurons["scores"].astype(str).str.split(";").str[0].astype(float)
    ranked = neurons.assign(_score=score).sort_values(
        ["layer", "kind", "n_shared", "_score", "neuron"], ascending=[True, True, False, False, True]
    )
    keep = ranked.groupby(["layer", "kind"], sort=False).head(n_neurons).index
    chosen = neurons.index.isin(keep)
    if property_neurons:
        chosen |= neurons["property_group"].fillna("").astype(str).ne("").to_numpy()
    return neurons[chosen].sort_values(["layer", "kind", "neuron"]).reset_index(drop=True)
