"""Figures of the layer-wise analysis (atomic PNGs through ``speechneurons.plotting``).

- :func:`plot_layer_curves`: one measure (a PWCCA view) against layer, one line per
  checkpoint (colour = pretraining progress), error bars = spread over trials;
- :func:`plot_heatmap`: the same measure as a checkpoint x layer grid;
- :func:`plot_reset_top`: CTC phone error rate against the number of re-initialised top
  layers, with bootstrap intervals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from speechneurons.plotting import save_figure  # sets the headless backend first

VIEW_TITLES = {
    "mel": "log-Mel frames",
    "cnn": "CNN (feature encoder) output",
    "phone": "one-hot phones (segment means)",
    "word": "one-hot words (segment means)",
}


def checkpoint_order(names: Sequence[str]) -> list[str]:
    """Checkpoints in pretraining order: step-N by N, then 'final', then anything else by name."""

    def key(name: str):
        m = re.fullmatch(r"step-(\d+)", name)
        if m:
            return (0, int(m.group(1)), name)
        return (1 if name == "final" else 2, 0, name)

    return sorted(dict.fromkeys(names), key=key)


def _measure_rows(summary: pd.DataFrame, view: str, value: str) -> pd.DataFrame:
    rows = summary[summary["view"] == view]
    if rows.empty:
        raise ValueError(f"no rows of view {view!r} in the summary")
    return rows.assign(**{value: rows[value].astype(float)})


def plot_layer_curves(
    summary: pd.DataFrame, view: str, path: str | Path, value: str = "pwcca", spread: str | None = "pwcca_std"
) -> None:
    """Held-out PWCCA (or ``value``) of each layer against ``view``, one line per checkpoint."""
    rows = _measure_rows(summary, view, value)
    order = checkpoint_order(rows["checkpoint"].astype(str).tolist())
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(2, len(order))))
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    for colour, ckpt in zip(colours, order):
        r = rows[rows["checkpoint"].astype(str) == ckpt].sort_values("layer")
        err = r[spread].to_numpy(float) if spread and spread in r else None
        ax.errorbar(r["layer"], r[value], yerr=err, marker="o", ms=4, capsize=2, color=colour, label=ckpt)
    ax.set_xlabel("layer (0 = transformer input)")
    ax.set_ylabel("held-out PWCCA (unitless, 0 to 1)")
    ax.set_title(f"PWCCA with {VIEW_TITLES.get(view, view)}\n(bars: standard deviation over trials)", fontsize=10)
    ax.set_xticks(sorted(rows["layer"].unique()))
    ax.grid(alpha=0.3)
    ax.legend(title="checkpoint", fontsize=8)
    save_figure(fig, path)


def plot_heatmap(summary: pd.DataFrame, view: str, path: str | Path, value: str = "pwcca") -> None:
    """Checkpoint x layer grid of the held-out PWCCA (or ``value``) against ``view``."""
    rows = _measure_rows(summary, view, value)
    grid = rows.pivot_table(index="checkpoint", columns="layer", values=value, aggfunc="mean")
    grid = grid.loc[checkpoint_order(grid.index.astype(str).tolist())]
    fig, ax = plt.subplots(figsize=(1.0 + 0.7 * grid.shape[1], 1.2 + 0.45 * grid.shape[0]))
    im = ax.imshow(
        grid.to_numpy(float), aspect="auto", cmap="magma", vmin=min(0.0, np.nanmin(grid.to_numpy(float))), vmax=1.0
    )
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid.iat[i, j]
            if np.isfinite(v):
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color="white" if v < 0.6 else "black")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), list(grid.index))
    ax.set_xlabel("layer (0 = transformer input)")
    ax.set_ylabel("checkpoint (pretraining order)")
    ax.set_title(f"PWCCA with {VIEW_TITLES.get(view, view)}")
    fig.colorbar(im, ax=ax, label="held-out PWCCA (unitless)")
    save_figure(fig, path)


def plot_reset_top(summary: pd.DataFrame, path: str | Path, level: float = 0.95) -> None:
    """CTC phone error rate (%) on test against the number n of re-initialised top layers,
    with the ``level`` bootstrap interval over test utterances."""
    s = summary.sort_values("n_reset")
    per = s["per"].to_numpy(float)
    err = np.vstack([per - s["per_low"].to_numpy(float), s["per_high"].to_numpy(float) - per])
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    ax.errorbar(s["n_reset"], per, yerr=np.where(np.isfinite(err), err, 0.0), marker="o", capsize=3)
    ax.set_xticks(s["n_reset"].tolist())
    ax.set_xlabel("top layers re-initialised before fine-tuning (n)")
    ax.set_ylabel("phone error rate on test (%)")
    ax.set_title(
        f"CTC fine-tuning with the top n layers reset\n(bars: {100 * level:g} % bootstrap interval "
        "over test utterances)",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    save_figure(fig, path)
