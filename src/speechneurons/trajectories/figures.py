"""Figures of the layer-wise analysis (atomic PNGs through ``speechneurons.plotting``).

A *measure* is a table with ``checkpoint``, ``layer`` and a value column (PWCCA against one
view, or one probe's test error), optionally ``step`` and a spread (standard deviation over
trials, or an interval):
- :func:`plot_layer_curves`: the measure against layer, one line per checkpoint (colour =
  pretraining progress);
- :func:`plot_heatmap`: the same measure as a checkpoint x layer grid;
- :func:`plot_counts`: property-neuron counts by checkpoint, one line per layer;
- :func:`plot_reset_top`: CTC phone error rate against the number of re-initialised top
  layers, with bootstrap intervals;
- :func:`plot_runs`: the layer curves of several pretraining runs side by side, one panel per
  run, at the steps every run saved (equal compute);
- :func:`plot_runs_reset_top`: PER against n for every run.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from speechneurons.plotting import plt, save_figure  # plt: pyplot with the headless backend
from speechneurons.trajectories.runs import checkpoint_order

VIEW_TITLES = {
    "mel": "log-Mel frames",
    "frontend": "the front-end output (CNN, or log-Mel of a log-Mel front-end)",
    "phone": "one-hot phones (segment means)",
    "word": "one-hot words (segment means)",
}
PWCCA_LABEL = "held-out PWCCA (unitless, 0 to 1)"
PROBE_LABELS = {
    "phone": ("frame phone error (%)", "phone probe"),
    "sid": ("speaker-ID error (%)", "speaker-ID probe"),
    "gender": ("gender error (%)", "gender probe (utterance means)"),
    "f0": ("log-F0 MSE ((log Hz)^2)", "log-F0 probe (voiced frames)"),
}
LAYER_LABEL = "layer (0 = input of layer 1)"
COUNT_TITLES = {"n_phone_type": "phone-type neurons", "n_gender": "gender neurons", "n_pitch": "pitch neurons"}


def pwcca_measure(summary: pd.DataFrame, view: str) -> pd.DataFrame:
    """The PWCCA rows of one view: value = ``pwcca``, spread = ``pwcca_std``."""
    rows = summary[summary["view"] == view]
    if rows.empty:
        raise ValueError(f"no rows of view {view!r} in the PWCCA table")
    return rows.assign(value=rows["pwcca"].astype(float), std=rows["pwcca_std"].astype(float))


def probe_measure(probes: pd.DataFrame, task: str) -> pd.DataFrame:
    """The probe rows of one task: value = the test error, interval ``ci_low``..``ci_high``."""
    rows = probes[probes["task"] == task]
    if rows.empty:
        raise ValueError(f"no rows of probe task {task!r} in the probe table")
    return rows.assign(value=rows["value"].astype(float))


def _label(rows: pd.DataFrame, ckpt: str) -> str:
    if ckpt == "final" and "step" in rows and rows.loc[rows["checkpoint"] == ckpt, "step"].notna().any():
        return f"final (step {int(rows.loc[rows['checkpoint'] == ckpt, 'step'].dropna().iloc[0])})"
    return ckpt


def _yerr(r: pd.DataFrame) -> np.ndarray | None:
    if "ci_low" in r and "ci_high" in r and r["ci_low"].notna().any():
        v = r["value"].to_numpy(float)
        err = np.vstack([v - r["ci_low"].to_numpy(float), r["ci_high"].to_numpy(float) - v])
        return np.where(np.isfinite(err), np.abs(err), 0.0)
    if "std" in r and r["std"].notna().any():
        return np.nan_to_num(r["std"].to_numpy(float))
    return None


def _curves(ax, rows: pd.DataFrame, order: list[str], colours) -> None:
    for colour, ckpt in zip(colours, order):
        r = rows[rows["checkpoint"].astype(str) == ckpt].sort_values("layer")
        ax.errorbar(r["layer"], r["value"], yerr=_yerr(r), marker="o", ms=4, capsize=2, color=colour,
                    label=_label(rows, ckpt))  # fmt: skip
    ax.set_xticks(sorted(rows["layer"].unique()))
    ax.grid(alpha=0.3)


def plot_layer_curves(rows: pd.DataFrame, path: str | Path, *, ylabel: str, title: str, spread: str = "") -> None:
    """The measure against layer, one line per checkpoint (viridis: early = dark); error bars
    are the rows' interval or standard deviation, described by ``spread``."""
    order = checkpoint_order(rows["checkpoint"].astype(str).tolist())
    colours = plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(2, len(order))))
    fig, ax = plt.subplots(figsize=(6.0, 4.0))
    _curves(ax, rows, order, colours)
    ax.set_xlabel(LAYER_LABEL)
    ax.set_ylabel(ylabel)
    ax.set_title(title + (f"\n(bars: {spread})" if spread else ""), fontsize=10)
    ax.legend(title="checkpoint", fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    save_figure(fig, path)


def plot_heatmap(rows: pd.DataFrame, path: str | Path, *, label: str, title: str, unit_range: bool = False) -> None:
    """Checkpoint x layer grid of the measure, the value printed in each cell; ``unit_range``
    fixes the colour scale to [0, 1] (PWCCA)."""
    grid = rows.pivot_table(index="checkpoint", columns="layer", values="value", aggfunc="mean")
    order = checkpoint_order(grid.index.astype(str).tolist())
    grid = grid.loc[order]
    values = grid.to_numpy(float)
    lo, hi = (min(0.0, np.nanmin(values)), 1.0) if unit_range else (np.nanmin(values), np.nanmax(values))
    fig, ax = plt.subplots(figsize=(1.6 + 0.7 * grid.shape[1], 1.4 + 0.45 * grid.shape[0]))
    im = ax.imshow(values, aspect="auto", cmap="magma", vmin=lo, vmax=hi if hi > lo else lo + 1e-9)
    mid = lo + 0.6 * (hi - lo)
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = values[i, j]
            if np.isfinite(v):
                text = f"{v:.2f}" if abs(v) < 10 else f"{v:.0f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7, color="white" if v < mid else "black")
    ax.set_xticks(range(grid.shape[1]), [str(c) for c in grid.columns])
    ax.set_yticks(range(grid.shape[0]), [_label(rows, c) for c in order])
    ax.set_xlabel(LAYER_LABEL)
    ax.set_ylabel("checkpoint (pretraining order)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, label=label)
    save_figure(fig, path)


def plot_counts(counts: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Property-neuron counts by checkpoint (x, pretraining order), one line per layer, one
    panel per property."""
    order = checkpoint_order(counts["checkpoint"].astype(str).tolist())
    x = {c: i for i, c in enumerate(order)}
    layers = sorted(counts["layer"].unique())
    colours = plt.get_cmap("plasma")(np.linspace(0.0, 0.85, max(2, len(layers))))
    fig, axes = plt.subplots(1, len(COUNT_TITLES), figsize=(4.0 * len(COUNT_TITLES), 3.6), sharey=False)
    for ax, (col, name) in zip(np.atleast_1d(axes), COUNT_TITLES.items()):
        for colour, layer in zip(colours, layers):
            r = counts[counts["layer"] == layer]
            r = r.assign(_x=r["checkpoint"].astype(str).map(x)).sort_values("_x")
            ax.plot(r["_x"], r[col], marker="o", ms=4, color=colour, label=f"layer {layer}")
        ax.set_xticks(range(len(order)), [_label(counts, c) for c in order], rotation=30, ha="right", fontsize=8)
        ax.set_xlabel("checkpoint (pretraining order)")
        ax.set_title(name, fontsize=10)
        ax.set_ylim(bottom=0, top=max(1.0, 1.1 * float(counts[col].max())))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("property neurons (count)")
    np.atleast_1d(axes)[-1].legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10, y=1.03)
    save_figure(fig, path)


def plot_reset_top(summary: pd.DataFrame, path: str | Path, level: float, title: str = "") -> None:
    """CTC phone error rate (%) on test against the number n of re-initialised top layers,
    with the ``level`` bootstrap interval over test utterances."""
    s = summary.sort_values("n_reset")
    per = s["per"].to_numpy(float)
    err = np.vstack([per - s["per_low"].to_numpy(float), s["per_high"].to_numpy(float) - per])
    fig, ax = plt.subplots(figsize=(4.8, 3.6))
    ax.errorbar(s["n_reset"], per, yerr=np.where(np.isfinite(err), err, 0.0), marker="o", capsize=3)
    if "lr" in s:
        for n, p, lr in zip(s["n_reset"], per, s["lr"]):
            ax.annotate(f"lr {lr:g}", (n, p), textcoords="offset points", xytext=(5, 5), fontsize=7)
    ax.set_xticks(s["n_reset"].tolist())
    ax.set_xlabel("top layers re-initialised before fine-tuning (n)")
    ax.set_ylabel("phone error rate on test (%)")
    ax.set_title(
        (title + "\n" if title else "")
        + f"CTC fine-tuning, top n layers reset\n(bars: {100 * level:g} % bootstrap interval over test utterances)",
        fontsize=9,
    )
    ax.grid(alpha=0.3)
    save_figure(fig, path)


def plot_runs(
    table: pd.DataFrame,
    path: str | Path,
    *,
    ylabel: str,
    title: str,
    labels: Mapping[str, str] | None = None,
    spread: str = "",
) -> None:
    """One panel per run (``run`` column, in table order), each with the measure against layer
    at every step of the table (one colour per step, the same in every panel), shared y axis:
    the runs side by side at equal pretraining steps."""
    runs = list(dict.fromkeys(table["run"].astype(str)))
    steps = sorted(int(s) for s in table["step"].dropna().unique())
    colours = dict(zip(steps, plt.get_cmap("viridis")(np.linspace(0.0, 0.9, max(2, len(steps))))))
    fig, axes = plt.subplots(1, len(runs), figsize=(3.6 * len(runs) + 0.8, 3.8), sharey=True, squeeze=False)
    for ax, run in zip(axes[0], runs):
        r = table[table["run"].astype(str) == run]
        for step in steps:
            s = r[r["step"] == step].sort_values("layer")
            if s.empty:
                continue
            ax.errorbar(s["layer"], s["value"], yerr=_yerr(s), marker="o", ms=3, capsize=2, color=colours[step],
                        label=f"step {step}")  # fmt: skip
        label = "\n".join(textwrap.wrap((labels or {}).get(run, "").replace("+", " + "), 34))
        ax.set_title(f"{run}\n{label}", fontsize=8)  # wrapped: a long schedule ran into its neighbours
        ax.set_xlabel(LAYER_LABEL)
        ax.set_xticks(sorted(r["layer"].unique()))
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(title="global step", fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(title + (f"\n(bars: {spread})" if spread else ""), fontsize=10, y=1.08)
    save_figure(fig, path)


def plot_runs_reset_top(table: pd.DataFrame, path: str | Path, level: float) -> None:
    """PER on test against n for every run (``run`` column), with bootstrap intervals."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    runs = list(dict.fromkeys(table["run"].astype(str)))
    for k, run in enumerate(runs):
        s = table[table["run"].astype(str) == run].sort_values("n_reset")
        per = s["per"].to_numpy(float)
        err = np.vstack([per - s["per_low"].to_numpy(float), s["per_high"].to_numpy(float) - per])
        offset = 0.06 * (k - (len(runs) - 1) / 2)
        ax.errorbar(s["n_reset"] + offset, per, yerr=np.where(np.isfinite(err), err, 0.0), marker="o", capsize=3,
                    label=run)  # fmt: skip
    ax.set_xticks(sorted(table["n_reset"].unique()))
    ax.set_xlabel("top layers re-initialised before fine-tuning (n)")
    ax.set_ylabel("phone error rate on test (%)")
    ax.set_title(f"Reset-top fine-tuning per run\n(bars: {100 * level:g} % bootstrap interval)", fontsize=10)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    save_figure(fig, path)
