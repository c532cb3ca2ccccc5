"""Figures of the SAE study (PNG, written atomically by :func:`speechneurons.plotting.save_figure`).

Inputs are the summaries of :class:`~speechneurons.saes.evaluation.SaeEvaluation` (one table
row per layer, architecture and k: :meth:`SaeEvaluation.summary` plus a ``layer`` column) or
the evaluations themselves, keyed by a legend label.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..plotting import plt, save_figure
from .evaluation import SaeEvaluation

#: One colour per architecture, the same in every figure.
COLOURS = {"topk": "tab:blue", "mutual_choice": "tab:orange", "feature_choice": "tab:green"}
LABELS = {"topk": "TopK", "mutual_choice": "mutual choice", "feature_choice": "feature choice"}


def _colour(arch: str) -> str:
    return COLOURS.get(arch, "tab:gray")


def plot_fvu_vs_l0(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """FVU against mean L0, one line per architecture through its k sweep (columns
    ``architecture, k, l0_mean, fvu``; one layer's rows)."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for arch, rows in table.groupby("architecture", sort=False):
        rows = rows.sort_values("l0_mean")
        ax.plot(rows.l0_mean, rows.fvu, "o-", color=_colour(arch), label=LABELS.get(arch, arch))
        for _, r in rows.iterrows():
            ax.annotate(f"k={int(r.k)}", (r.l0_mean, r.fvu), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("mean L0 on held-out frames (active latents per frame)")
    ax.set_ylabel("FVU (fraction of variance unexplained)")
    ax.set_title(title or "Reconstruction against sparsity")
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False)
    save_figure(fig, path)


def plot_dead_share(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Share of dead latents (no firing on held-out frames) per layer, one bar per architecture
    (columns ``layer, architecture, dead_share``)."""
    layers = sorted(table.layer.unique())
    archs = list(dict.fromkeys(table.architecture))
    width = 0.8 / max(1, len(archs))
    fig, ax = plt.subplots(figsize=(max(4.5, 0.9 * len(layers) + 2), 3.6))
    for i, arch in enumerate(archs):
        rows = table[table.architecture == arch].set_index("layer").reindex(layers)
        ax.bar(np.arange(len(layers)) + (i - (len(archs) - 1) / 2) * width, 100 * rows.dead_share.to_numpy(),
               width, color=_colour(arch), label=LABELS.get(arch, arch))
    ax.set_xticks(np.arange(len(layers)), [str(v) for v in layers])
    ax.set_xlabel("layer")
    ax.set_ylabel("dead latents (% of F)")
    ax.set_title(title or "Latents that never fire on held-out frames")
    ax.legend(frameon=False)
    save_figure(fig, path)


def plot_density_rank(evaluations: Mapping[str, SaeEvaluation], path: str | Path, title: str = "") -> None:
    """Latent density against density rank (log-log) with each SAE's Zipf fit (dashed)."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    lows, highs = [], []
    for label, ev in evaluations.items():
        d = np.sort(ev.density)[::-1]
        d = d[d > 0]
        if d.size == 0:
            continue
        lows.append(100 * d[-1])
        highs.append(100 * d[0])
        rank = np.arange(1, d.size + 1)
        colour = _colour(ev.architecture)
        fit = ev.zipf
        ax.plot(rank, 100 * d, color=colour, lw=1.2,
                label=f"{label}: slope {fit.slope:.2f}, R² {fit.r2:.2f}, dead {100 * ev.dead_share:.0f}%")
        if np.isfinite(fit.slope):
            ax.plot(rank, 100 * 10 ** (fit.intercept + fit.slope * np.log10(rank)), "--", color=colour, lw=0.8)
    ax.set_xscale("log")
    ax.set_yscale("log")
    if lows:  # the fitted lines may leave the data's range (a flat head makes them steep)
        ax.set_ylim(0.5 * min(lows), min(100.0, 2 * max(highs)))
    ax.set_xlabel("latent rank by density (1 = most frequent)")
    ax.set_ylabel("density (% of held-out frames where the latent fires)")
    ax.set_title(title or "Latent density against rank, with Zipf fits")
    ax.grid(alpha=0.3, which="both")
    ax.legend(frameon=False, fontsize=7)
    save_figure(fig, path)


def plot_l0_distributions(evaluations: Mapping[str, SaeEvaluation], path: str | Path, title: str = "") -> None:
    """Distribution of L0 per held-out frame (share of frames), one step histogram per SAE."""
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for label, ev in evaluations.items():
        h = ev.l0_histogram / max(1, ev.l0_histogram.sum())
        ax.step(np.arange(h.size), 100 * h, where="mid", color=_colour(ev.architecture),
                label=f"{label}: mean {ev.l0_mean:.1f}")
        ax.axvline(ev.k, color=_colour(ev.architecture), ls=":", lw=0.8)
    ax.set_xlabel("L0 (active latents in a frame)")
    ax.set_ylabel("frames (%)")
    ax.set_title(title or "Active latents per frame (dotted: k)")
    ax.legend(frameon=False, fontsize=7)
    save_figure(fig, path)
