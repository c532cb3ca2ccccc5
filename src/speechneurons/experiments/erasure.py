"""Erasing a property group by silencing its neurons in every layer.

Erasing neuron j of a layer zeroes column j of fc2 (W2[:, j] = 0), which is the same as
forcing its activation to 0: fc2(a) = W2 a + b2 no longer depends on a_j. The bias b2 is
not per neuron and stays. A group's property neurons are
``exclusive_group_neurons[property][group]`` of the property stage's ``neurons.json``.

The random control erases, in each layer, a set matched to the group's
(:func:`speechneurons.stats.controls.matched_controls`: as many neurons, matched by nearest
activation rate), drawn from the layer's neurons that are no property's neurons.
An erasure with no neuron to erase is reported as empty (NaN), never as a zero effect.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

import numpy as np

from speechneurons.experiments.variants import ERASURE_KINDS
from speechneurons.probing.probes import add_roles, select_layers
from speechneurons.probing.scoring import compare
from speechneurons.study import parse_erasure_name

if TYPE_CHECKING:
    import torch


def erase_fc2_(fc2: torch.nn.Linear, idx) -> None:
    """Zero the columns ``idx`` of fc2's weight in place."""
    import torch

    idx = torch.as_tensor(np.asarray(idx, dtype=np.int64), device=fc2.weight.device)
    if idx.numel():
        with torch.no_grad():
            fc2.weight[:, idx] = 0


@contextlib.contextmanager
def erased(
    layers: Mapping[int, tuple[torch.nn.Linear, torch.nn.Linear]], sets: Mapping[int, np.ndarray]
) -> Iterator[None]:
    """Zero the chosen fc2 columns of each layer while inside; restore them on exit.

    ``layers`` maps layer -> (fc1, fc2) (see :func:`speechneurons.pruning.ffn_pairs`).
    """
    import torch

    saved = {}
    try:
        for layer, idx in sets.items():
            fc2 = layers[layer][1]
            saved[layer] = fc2.weight.detach().clone()
            erase_fc2_(fc2, idx)
        yield
    finally:
        with torch.no_grad():
            for layer, weight in saved.items():
                layers[layer][1].weight.copy_(weight)


KEY_COLUMNS = ("task", "metric", "layer", "eval_group", "n_test_utts")
MEASURED = ("value", "ci_low", "ci_high", "baseline", "delta", "delta_ci_low", "delta_ci_high")
CONTROL_COLUMNS = ("control_value", "vs_control", "vs_control_ci_low", "vs_control_ci_high")


def erasure_table(
    baseline,
    variants: Mapping[tuple[str, str], object],
    n_erased: Mapping[tuple[str, str], int],
    roles: Mapping[str, Mapping[int, str]],
    resamples: int,
    seed: int,
    level: float,
):
    """Each erasure (``<property>-<group>``, kind 'property' or 'random') evaluated per group:
    per task, probe layer and evaluation group (all, gender=F/M, phone_type=..., pitch_bin=...)
    the error metric (%, or log-F0 MSE) with CI, the baseline (unerased model) and the paired
    difference to it with CI; property rows also carry the paired difference to their random
    control (``vs_control``) with CI."""
    import pandas as pd

    base = select_layers(baseline, roles)
    parts = []
    for name in sorted({n for n, _ in variants}):
        prop, group = parse_erasure_name(name)
        erased_losses = {
            kind: select_layers(variants[(name, kind)], roles) for kind in ERASURE_KINDS if (name, kind) in variants
        }
        for kind, losses in erased_losses.items():
            n = n_erased.get((name, kind), 0)
            if n == 0:  # nothing was erased: the baseline's rows, no effect (never a zero effect)
                t = compare(base, None, 1, seed, level, kind="error", groups="every")[list(KEY_COLUMNS)]
                t = t.assign(**dict.fromkeys(MEASURED + (CONTROL_COLUMNS if kind == "property" else ()), np.nan))
            else:
                t = compare(losses, base, resamples, seed, level, kind="error", groups="every")
            if n and kind == "property" and "random" in erased_losses and len(erased_losses["random"]):
                c = compare(losses, erased_losses["random"], resamples, seed, level, kind="error", groups="every")
                c = c[["task", "layer", "eval_group", "baseline", "delta", "delta_ci_low", "delta_ci_high"]]
                c.columns = [
                    "task",
                    "layer",
                    "eval_group",
                    "control_value",
                    "vs_control",
                    "vs_control_ci_low",
                    "vs_control_ci_high",
                ]
                t = t.merge(c, on=["task", "layer", "eval_group"], how="left")
            for col, value in reversed(
                [
                    ("erasure", name),
                    ("property", prop),
                    ("group", group),
                    ("kind", kind),
                    ("n_erased", n),
                    ("status", "erased" if n else "empty: no neuron to erase"),
                ]
            ):
                t.insert(0, col, value)
            parts.append(t)
    return add_roles(pd.concat(parts, ignore_index=True), roles) if parts else pd.DataFrame()


#: the task whose error an erased property is judged by, and the evaluation groups it is read on
ERASURE_VIEW = {"gender": ("sid", "gender="), "phone_type": ("phone", "phone_type="), "pitch": ("f0", "pitch_bin=")}


def erasure_matrix(table, prop: str, layer_role: str = "last", kind: str = "property"):
    """The authors' erasure table of one property: one row per erased group and one column per
    scored group (gender: SID error on F and on M speakers, a 2x2 table; phone type: frame
    phone-classification error on each type, 3x3), at the probe layer of ``layer_role``: the
    change of the error against the unerased model with its interval, the same against the
    random control, and the number of neurons erased. Empty erasures stay empty (NaN).
    ``kind='random'``: the same table for the matched random controls."""
    import pandas as pd

    task, prefix = ERASURE_VIEW[prop]
    cols = ["group", "scored", "layer", "n_erased", "status", "baseline", "value", "delta", "delta_ci_low",
            "delta_ci_high", "vs_control", "vs_control_ci_low", "vs_control_ci_high"]  # fmt: skip
    empty = pd.DataFrame(columns=["erased", *cols[1:]])
    if not len(table) or "property" not in table:
        return empty
    rows = table[(table["property"] == prop) & (table["kind"] == kind) & (table["task"] == task)]
    roles = rows["layer_role"].astype(str).str.split("+")
    rows = rows[np.array([layer_role in r for r in roles], dtype=bool)]
    rows = rows[rows["eval_group"].astype(str).str.startswith(prefix).to_numpy(dtype=bool)]
    if not len(rows):
        return empty
    out = rows.assign(scored=rows["eval_group"].str.removeprefix(prefix))
    out = out[[c for c in cols if c in out.columns]]
    return pd.DataFrame(out).rename(columns={"group": "erased"}).reset_index(drop=True)
