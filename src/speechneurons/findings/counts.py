"""The property-neuron counts of every layer beside their controls, for the findings page: the
count, its chance range under the property's own null and the rank p-value, the count of the
same architecture with random weights on the same data (the primary control; with several
initialisation seeds their mean and range) and its chance range, and trained minus random."""

from __future__ import annotations

import math

import pandas as pd

PROPERTY_NAMES = {"phone_type": "phone type", "gender": "gender", "pitch": "pitch"}
COLUMNS = [
    "property",
    "layer",
    "count",
    "chance range",
    "p",
    "random weights",
    "random: chance up to",
    "trained − random",
]


def _num(x, digits: int = 0) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{float(x):.{digits}f}"


def _digits(r: dict) -> int:
    """Decimals of a random-weights number: 1 for a mean over several seeds, else 0."""
    n = r.get("random_seeds", math.nan)
    return 1 if n == n and n > 1 else 0


def _random(r: dict, col: str) -> str:
    """The random-weights count: the count, or with several seeds their mean and range."""
    value = _num(r.get(f"random_{col}", math.nan), _digits(r))
    if _digits(r):
        lo, hi = r.get(f"random_low_{col}", math.nan), r.get(f"random_high_{col}", math.nan)
        value += f" ({_num(lo)}–{_num(hi)}, {int(r['random_seeds'])} seeds)"
    return value


def count_controls(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (property, layer) from a property summary.tsv (with the columns of
    :func:`speechneurons.properties.nulls.chance_columns` and
    :func:`speechneurons.properties.nulls.with_random_weights` where present), as text."""
    rows = []
    for prop, name in PROPERTY_NAMES.items():
        col = f"n_{prop}"
        if col not in summary:
            continue
        for r in summary.sort_values("layer").to_dict("records"):
            lo, hi = r.get(f"chance_low_{col}", math.nan), r.get(f"chance_high_{col}", math.nan)
            rows.append(
                {
                    "property": name,
                    "layer": int(r["layer"]),
                    "count": _num(r[col]),
                    "chance range": "n/a" if math.isnan(float(hi)) else f"{_num(lo, 1)}–{_num(hi, 1)}",
                    "p": _num(r.get(f"p_{col}", math.nan), 3),
                    "random weights": _random(r, col),
                    "random: chance up to": _num(r.get(f"random_chance_high_{col}", math.nan), 1),
                    "trained − random": _num(r.get(f"trained_minus_random_{col}", math.nan), _digits(r)),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)
