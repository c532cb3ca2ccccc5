"""Stack the tables of several (corpus, model) pairs into one, with the pair's names first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from speechneurons.io import read_table


def stack(pairs: Sequence[tuple[str, str]], paths: Sequence[str | Path]) -> pd.DataFrame:
    """One table from one file per (corpus, model) pair (same order): ``corpus`` and ``model``
    columns first, then the file's columns (the union over files; missing cells empty)."""
    if len(pairs) != len(paths):
        raise ValueError(f"{len(pairs)} pairs but {len(paths)} files")
    parts = []
    for (corpus, model), path in zip(pairs, paths, strict=True):
        t = read_table(path)
        t.insert(0, "model", model)
        t.insert(0, "corpus", corpus)
        parts.append(t)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["corpus", "model"])


def with_depth(summary: pd.DataFrame) -> pd.DataFrame:
    """A stacked property summary with ``num_layers``, ``relative_depth`` (layer / layers of
    that model) and ``share_<prop>`` (property neurons, % of the layer's D)."""
    out = summary.copy()
    out["num_layers"] = out.groupby(["corpus", "model"])["layer"].transform("max")
    out["relative_depth"] = out["layer"] / out["num_layers"]
    for prop in ("phone_type", "gender", "pitch"):
        out[f"share_{prop}"] = 100 * out[f"n_{prop}"] / out["D"]
    return out
