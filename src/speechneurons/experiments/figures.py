"""Figures of the experiments stage, drawn like the authors' (Lin et al., SLT 2024).

- :func:`plot_pruning`: grouped bars per metric and sparsity, one bar per strategy (the matched
  control protect_random beside protect; the keep strategies, pruned to the property neurons'
  widths, as a last group), with the bootstrap interval as error bar; the unpruned model as a
  line with its interval as a band.
- :func:`plot_erasure`: the erasure effects as a table-like heat map: rows = erased group and
  its random control, columns = evaluation groups, cell = change of the task's error against
  the unerased model (points, or log-F0 MSE) with its interval written in the cell.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.experiments.erasure import ERASURE_VIEW
from speechneurons.plotting import plt, save_figure

STRATEGY_COLOURS = {
    "norm": "#4c72b0",
    "protect": "#dd8452",
    "protect_random": "#f2c4a0",
    "random": "#8c8c8c",
    "keep_norm": "#4c72b0",
    "keep_property": "#dd8452",
    "keep_random": "#8c8c8c",
}
STRATEGY_LABELS = {
    "protect_random": "protect_random (matched control)",
    "keep_norm": "keep norm (same widths)",
    "keep_property": "keep property neurons",
    "keep_random": "keep matched random",
}
KEEP = ("keep_norm", "keep_property", "keep_random")
METRIC_LABELS = {
    "frame_phone_error_pct": "frame phone error (%)",
    "sid_accuracy_pct": "speaker ID accuracy (%)",
    "gender_accuracy_pct": "gender accuracy (%)",
    "log_f0_mse": "log-F0 MSE",
}
TASK_TITLES = {
    "phone": "Phone classification",
    "sid": "Speaker identification",
    "gender": "Gender",
    "f0": "log-F0 regression",
}


def plot_pruning(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Grouped bars: one panel per (task, probe layer), x = sparsity, bars = strategies."""
    panels = table[["task", "metric", "layer", "layer_role"]].drop_duplicates().sort_values(["task", "layer"])
    n = max(len(panels), 1)
    ncols = min(n, 4)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    strategies = [s for s in STRATEGY_COLOURS if s in set(table["strategy"])]
    for ax, (_, pan) in zip(axes.flat, panels.iterrows()):
        d = table[(table["task"] == pan["task"]) & (table["layer"] == pan["layer"])]
        base = d[d["strategy"] == "unpruned"]
        if len(base):
            b = base.iloc[0]
            ax.axhline(b["value"], color="black", lw=1, label="unpruned")
            if np.isfinite(b["ci_low"]):
                ax.axhspan(b["ci_low"], b["ci_high"], color="black", alpha=0.08)
        # x groups: each nominal sparsity with its strategies, then the keep strategies (pruned
        # to the property neurons' widths) at their realised sparsity
        nominal = d[~d["strategy"].isin(KEEP + ("unpruned",))]
        groups = [(f"{sp:g}", nominal[nominal["sparsity"] == sp]) for sp in sorted(nominal["sparsity"].unique())]
        keep = d[d["strategy"].isin(KEEP)]
        if len(keep):  # realised sparsity of the property neurons' widths (keep_property)
            ref = keep[keep["strategy"] == "keep_property"]
            groups.append((f"keep\n({(ref if len(ref) else keep)['sparsity'].iloc[0]:.2f})", keep))
        width = 0.8 / max(max((g["strategy"].nunique() for _, g in groups), default=1), 1)
        for gx, (_, g) in enumerate(groups):
            present = [st for st in strategies if st in set(g["strategy"])]
            for i, st in enumerate(present):
                r = g[g["strategy"] == st].iloc[0]
                err = np.array([[r["value"] - r["ci_low"]], [r["ci_high"] - r["value"]]], dtype=float)
                err = np.where(np.isfinite(err), np.clip(err, 0, None), 0)
                ax.bar(gx + (i - (len(present) - 1) / 2) * width, r["value"], width, yerr=err, capsize=2,
                       color=STRATEGY_COLOURS[st], hatch="//" if st in KEEP else None, edgecolor="white",
                       label=STRATEGY_LABELS.get(st, st))  # fmt: skip
        lows = np.concatenate([d["ci_low"].to_numpy(float), d["value"].to_numpy(float)])
        highs = np.concatenate([d["ci_high"].to_numpy(float), d["value"].to_numpy(float)])
        lows, highs = lows[np.isfinite(lows)], highs[np.isfinite(highs)]
        if len(lows):  # zoom on the differences (bars do not start at 0 when far from it)
            pad = 0.15 * max(highs.max() - lows.min(), 1e-3 * max(abs(highs.max()), 1e-6))
            ax.set_ylim(max(0.0, lows.min() - pad), highs.max() + pad)
        ax.set_xticks(np.arange(len(groups)), [name for name, _ in groups])
        ax.set_xlabel("sparsity (share of FFN neurons removed per layer)")
        ax.set_ylabel(METRIC_LABELS.get(pan["metric"], pan["metric"]))
        ax.set_title(
            f"{TASK_TITLES.get(pan['task'], pan['task'])}\nlayer {pan['layer']} ({pan['layer_role']})", fontsize=9
        )
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    unique = {}
    for ax in axes.flat:  # one legend entry per strategy, below the panels
        for handle, label in zip(*ax.get_legend_handles_labels()):
            unique.setdefault(label, handle)
    if unique:
        fig.legend(unique.values(), unique.keys(), loc="lower center", ncol=min(len(unique), 4), fontsize=7)
    if title:
        fig.suptitle(f"Pruning: {title}", fontsize=11)
    fig.tight_layout(rect=(0, 0.06 + 0.03 * ((len(unique) - 1) // 4), 1, 1))
    save_figure(fig, path)


def erasure_heatmap_cells(
    table: pd.DataFrame, prop: str, layer: int
) -> tuple[list[str], list[str], np.ndarray, list[list[str]]]:
    """Rows, columns, values (delta) and cell texts of one heat map (property, probe layer)."""
    task, prefix = ERASURE_VIEW[prop]
    d = table[(table["property"] == prop) & (table["task"] == task) & (table["layer"] == layer)]
    d = d[d["eval_group"].str.startswith(prefix) | (d["eval_group"] == "all")]
    cols = sorted(c for c in d["eval_group"].unique() if c != "all") + ["all"]
    rows, values, texts = [], [], []
    for group in sorted(d["group"].unique()):
        for kind in ("property", "random"):
            r = d[(d["group"] == group) & (d["kind"] == kind)].set_index("eval_group").reindex(cols)
            if r["delta"].isna().all():
                continue
            n = r["n_erased"].dropna()
            label = f"erase {group}" if kind == "property" else f"random ({group} size)"
            rows.append(f"{label} [{int(n.iloc[0]) if len(n) else 0}]")
            values.append(r["delta"].to_numpy(float))
            texts.append(
                [
                    f"{v:+.1f}\n[{lo:+.1f}, {hi:+.1f}]" if task != "f0" else f"{v:+.3f}\n[{lo:+.3f}, {hi:+.3f}]"
                    for v, lo, hi in zip(r["delta"], r["delta_ci_low"], r["delta_ci_high"])
                ]
            )
    return rows, cols, np.array(values).reshape(len(rows), len(cols)), texts


def plot_erasure(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """One heat map per (erased property, probe layer): change of error against the unerased
    model, per evaluation group, for the erasure and its random control."""
    panels = []
    if len(table):
        for prop in [p for p in ERASURE_VIEW if p in set(table["property"])]:
            task = ERASURE_VIEW[prop][0]
            for layer in sorted(table.loc[(table["property"] == prop) & (table["task"] == task), "layer"].unique()):
                panels.append((prop, int(layer)))
    ncols = max(1, min(len(panels), 2))
    nrows = max(1, int(np.ceil(len(panels) / ncols)))
    fig, axes = plt.subplots(nrows, ncols, figsize=(6.2 * ncols, 3.6 * nrows), squeeze=False)
    for ax, (prop, layer) in zip(axes.flat, panels):
        rows, cols, values, texts = erasure_heatmap_cells(table, prop, layer)
        task = ERASURE_VIEW[prop][0]
        lim = np.nanmax(np.abs(values)) if values.size and np.isfinite(values).any() else 1.0
        im = ax.imshow(values, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
        for i in range(len(rows)):
            for j in range(len(cols)):
                ax.text(j, i, texts[i][j], ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(cols)), [c.split("=")[-1] for c in cols], fontsize=8)
        ax.set_yticks(range(len(rows)), rows, fontsize=8)
        sel = (table["layer"] == layer) & (table["task"] == task)
        role = table.loc[sel, "layer_role"].iloc[0] if "layer_role" in table and sel.any() else ""
        metric = {"sid": "SID error", "phone": "phone error", "f0": "log-F0 MSE"}[task]
        unit = "" if task == "f0" else " (points)"
        ax.set_title(
            f"erase {prop} neurons: change of {metric}{unit}\nlayer {layer} ({role}); columns: test group", fontsize=9
        )
        fig.colorbar(im, ax=ax, shrink=0.8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if not panels:
        axes.flat[0].text(0.5, 0.5, "no erasure results", ha="center", va="center")
    if title:
        fig.suptitle(f"Erasure: {title}", fontsize=11)
    fig.tight_layout()
    save_figure(fig, path)
