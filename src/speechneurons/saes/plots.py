"""Figures of the SAE study (PNG, written atomically by :func:`speechneurons.plotting.save_figure`).

Inputs are the study's tables (:mod:`.tables`: one row per SAE with ``layer, architecture, k``
and the metrics) or the evaluations themselves, keyed by layer and legend label.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from ..plotting import plt, save_figure
from .evaluation import SaeEvaluation

#: One colour per architecture (and for neurons), the same in every figure.
COLOURS = {
    "topk": "tab:blue",
    "mutual_choice": "tab:orange",
    "feature_choice": "tab:green",
    "feature_choice_zipf": "tab:red",
    "neurons": "black",
}
LABELS = {
    "topk": "TopK",
    "mutual_choice": "mutual choice",
    "feature_choice": "feature choice (uniform)",
    "feature_choice_zipf": "feature choice (Zipf)",
    "neurons": "FFN neurons",
}


def _colour(arch: str) -> str:
    return COLOURS.get(arch, "tab:gray")


def _label(arch: str) -> str:
    return LABELS.get(arch, arch)


def _panels(n: int, width: float = 5.4, height: float = 4.2):
    fig, axes = plt.subplots(1, max(1, n), figsize=(width * max(1, n), height), squeeze=False)
    return fig, list(axes[0])


def _yerr(rows: pd.DataFrame, name: str, scale: float = 1.0):
    lo, hi = f"{name}_ci_low", f"{name}_ci_high"
    if lo not in rows or rows[lo].isna().all():
        return None
    return np.vstack([scale * (rows[name] - rows[lo]).clip(lower=0), scale * (rows[hi] - rows[name]).clip(lower=0)])


def plot_fvu_vs_l0(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """FVU against mean L0, one line per architecture through its k sweep, one panel per layer
    (columns ``layer, architecture, k, l0_mean, fvu`` and, when present, their ``_ci_low`` /
    ``_ci_high``)."""
    layers = sorted(table.layer.unique())
    fig, axes = _panels(len(layers))
    for ax, layer in zip(axes, layers):
        for arch, rows in table[table.layer == layer].groupby("architecture", sort=False):
            rows = rows.sort_values("l0_mean")
            ax.errorbar(
                rows.l0_mean,
                rows.fvu,
                yerr=_yerr(rows, "fvu"),
                xerr=_yerr(rows, "l0_mean"),
                fmt="o-",
                ms=4,
                capsize=2,
                color=_colour(arch),
                label=_label(arch),
            )
            for _, r in rows.iterrows():
                ax.annotate(
                    f"k={int(r.k)}",
                    (r.l0_mean, r.fvu),
                    textcoords="offset points",
                    xytext=(4, 4),
                    fontsize=6,
                    color=_colour(arch),
                )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("mean L0 on held-out frames (active latents per frame)")
        ax.set_ylabel("FVU (fraction of variance unexplained, held-out)")
        ax.set_title(f"layer {layer}")
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(frameon=False, fontsize=7)
    fig.suptitle(title or "Reconstruction against sparsity (95 % bootstrap intervals over utterances)")
    save_figure(fig, path)


def plot_dead_share(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Share of dead latents (no firing on held-out frames) per layer, one bar per architecture
    (columns ``layer, architecture, dead_share``)."""
    layers = sorted(table.layer.unique())
    archs = list(dict.fromkeys(table.architecture))
    width = 0.8 / max(1, len(archs))
    fig, ax = plt.subplots(figsize=(max(4.5, 1.2 * len(layers) + 2.5), 3.8))
    for i, arch in enumerate(archs):
        rows = table[table.architecture == arch].set_index("layer").reindex(layers)
        ax.bar(
            np.arange(len(layers)) + (i - (len(archs) - 1) / 2) * width,
            100 * rows.dead_share.to_numpy(),
            width,
            capsize=2,
            color=_colour(arch),
            label=_label(arch),
        )
    ax.set_xticks(np.arange(len(layers)), [str(v) for v in layers])
    ax.set_xlabel("layer")
    ax.set_ylabel("dead latents (% of F)")
    ax.set_title(title or "Latents that never fire on held-out frames")
    ax.legend(frameon=False, fontsize=7)
    save_figure(fig, path)


def plot_density_rank(
    evaluations: Mapping[int, Mapping[str, SaeEvaluation]], path: str | Path, title: str = ""
) -> None:
    """Latent density against density rank (log-log) with each SAE's Zipf fit (dashed), one
    panel per layer ({layer: {label: evaluation}})."""
    fig, axes = _panels(len(evaluations))
    for ax, (layer, evs) in zip(axes, sorted(evaluations.items())):
        lows, highs = [], []
        for label, ev in evs.items():
            d = np.sort(ev.density)[::-1]
            d = d[d > 0]
            if d.size == 0:
                continue
            lows.append(100 * d[-1])
            highs.append(100 * d[0])
            rank = np.arange(1, d.size + 1)
            colour = _colour(ev.architecture)
            fit = ev.zipf
            ax.plot(
                rank,
                100 * d,
                color=colour,
                lw=1.2,
                label=f"{label}: alpha {fit.alpha:.2f} (KS p {fit.p_value:.2f}), dead {100 * ev.dead_share:.0f}%",
            )
            if np.isfinite(fit.slope):
                ax.plot(rank, 100 * 10 ** (fit.intercept + fit.slope * np.log10(rank)), "--", color=colour, lw=0.8)
        ax.set_xscale("log")
        ax.set_yscale("log")
        if lows:  # the fitted lines may leave the data's range (a flat head makes them steep)
            ax.set_ylim(0.5 * min(lows), min(100.0, 2 * max(highs)))
        ax.set_xlabel("latent rank by density (1 = most frequent)")
        ax.set_ylabel("density (% of held-out frames where the latent fires)")
        ax.set_title(f"layer {layer}")
        ax.grid(alpha=0.3, which="both")
        ax.legend(frameon=False, fontsize=6)
    fig.suptitle(title or "Latent density against rank, with Zipf fits")
    save_figure(fig, path)


def plot_l0_distributions(
    evaluations: Mapping[int, Mapping[str, SaeEvaluation]], path: str | Path, title: str = ""
) -> None:
    """Distribution of L0 per held-out frame (share of frames), one step histogram per SAE, one
    panel per layer ({layer: {label: evaluation}}); dotted: k."""
    fig, axes = _panels(len(evaluations))
    for ax, (layer, evs) in zip(axes, sorted(evaluations.items())):
        for label, ev in evs.items():
            h = ev.l0_histogram / max(1, ev.l0_histogram.sum())
            ax.step(
                np.arange(h.size),
                100 * h,
                where="mid",
                color=_colour(ev.architecture),
                label=f"{label}: mean {ev.l0_mean:.1f}, 5-95 % {ev.l0_quantiles[0.05]:.0f}-{ev.l0_quantiles[0.95]:.0f}",
            )
            ax.axvline(ev.k, color="gray", ls=":", lw=0.8)
        ax.set_xlabel("L0 (active latents in a held-out frame)")
        ax.set_ylabel("frames (%)")
        ax.set_title(f"layer {layer}")
        ax.legend(frameon=False, fontsize=6)
    fig.suptitle(title or "Active latents per frame (dotted: k)")
    save_figure(fig, path)


def plot_units(units: pd.DataFrame, r_max: pd.DataFrame, sigma: float, path: str | Path, title: str = "") -> None:
    """SAE latents against FFN neurons as carriers of properties. Top row, per property: the
    property units per layer as a share of the layer's units (bars) with the permutation
    chance level (95th percentile, black ticks). Bottom row, per property: the share of units
    whose R_g reaches r for some group of the property (max over groups), pooled over the
    layers, with sigma dotted. ``units``: rows with ``group`` '' of the units table;
    ``r_max``: ``units, property, R_max`` (one row per unit and layer)."""
    props = list(dict.fromkeys(units.property))
    order = ["neurons", *COLOURS]
    kinds = sorted(set(units.units), key=lambda k: (order.index(k) if k in order else len(order), k))
    layers = sorted(units.layer.unique())
    fig, axes = plt.subplots(2, len(props), figsize=(4.6 * len(props), 7.2), squeeze=False)
    width = 0.8 / max(1, len(kinds))
    for c, prop in enumerate(props):
        ax = axes[0][c]
        for i, kind in enumerate(kinds):
            rows = units[(units.property == prop) & (units.units == kind)].set_index("layer").reindex(layers)
            x = np.arange(len(layers)) + (i - (len(kinds) - 1) / 2) * width
            ax.bar(x, 100 * rows.n_exclusive / rows.n_units, width, color=_colour(kind), label=_label(kind))
            ax.plot(x, 100 * rows.chance_q95 / rows.n_units, "_", color="black", ms=10, mew=1.5)
        ax.set_xticks(np.arange(len(layers)), [str(v) for v in layers])
        ax.set_xlabel("layer")
        ax.set_ylabel("property units (% of the layer's units)")
        ax.set_title(f"{prop} (ticks: chance, 95th percentile)")
        ax = axes[1][c]
        for kind in kinds:
            r = np.sort(r_max[(r_max.property == prop) & (r_max.units == kind)].R_max.to_numpy())
            if r.size:
                ax.step(
                    r, 100 * (1 - np.arange(r.size) / r.size), where="post", color=_colour(kind), label=_label(kind)
                )
        ax.axvline(sigma, color="gray", ls=":", lw=1)
        ax.set_yscale("log")
        ax.set_xlabel(f"r (max over {prop} groups of R_g)")
        ax.set_ylabel("units with R_g >= r (%)")
    axes[0][0].legend(frameon=False, fontsize=7)
    fig.suptitle(title or "SAE latents and FFN neurons as carriers of properties")
    save_figure(fig, path)


def plot_l0_by_frame(
    table: pd.DataFrame, path: str | Path, frame_ms: float = 20.0, level: float = 0.95, title: str = "", k=None
) -> None:
    """Mean active latents per frame by frame class (left) and by distance to the nearest phone
    boundary (right), one row of panels per layer, one colour per architecture, with the
    bootstrap intervals over utterances (``speechneurons.saes.adaptive.l0_by_frame`` rows with a
    ``layer`` column); ``k``: TopK's L0, drawn dotted for reference."""
    layers = sorted(table.layer.unique()) if len(table) else [0]
    fig, axes = plt.subplots(len(layers), 2, figsize=(11, 4.2 * len(layers)), squeeze=False)
    archs = list(dict.fromkeys(table.architecture)) if len(table) else []
    for row, layer in zip(axes, layers, strict=True):
        for col, grouping in enumerate(("frame class", "boundary distance")):
            ax = row[col]
            levels = list(dict.fromkeys(table[table.grouping == grouping].level)) if len(table) else []
            for i, arch in enumerate(archs):
                r = table[(table.layer == layer) & (table.architecture == arch) & (table.grouping == grouping)]
                if not len(r):
                    continue
                x = np.array([levels.index(lv) for lv in r.level]) + (i - (len(archs) - 1) / 2) * 0.12
                yerr = _yerr(
                    r.rename(columns={"l0_ci_low": "l0_mean_ci_low", "l0_ci_high": "l0_mean_ci_high"}), "l0_mean"
                )
                ax.errorbar(x, r.l0_mean, yerr=yerr, fmt="o-" if col else "o", color=_colour(arch), label=_label(arch),
                            capsize=3, ms=4)  # fmt: skip
            if k is not None:
                ax.axhline(float(k), ls=":", color=_colour("topk"), label=f"{_label('topk')} (L0 = k = {k})")
            if col == 0:
                ax.set_xticks(range(len(levels)), [lv.replace("_", "\n") for lv in levels])
                ax.set_xlabel("frame class (aligned phone)")
            else:
                ax.set_xticks(range(len(levels)), [f"{lv}\n{_ms(lv, frame_ms)}" for lv in levels])
                ax.set_xlabel(f"distance to the nearest phone boundary (frames of {frame_ms:g} ms)")
            ax.set_ylabel("mean active latents per frame (L0)")
            ax.set_title(f"layer {layer}: L0 by {grouping}")
            ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if handles:  # one legend for all panels, below them (never over a point)
        fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=len(handles), fontsize=9)
    pct = f"{100 * level:g} %"
    head = f"{title}\nwhere" if title else "Where"
    fig.suptitle(f"{head} the adaptive SAEs spend their latents ({pct} bootstrap intervals over utterances)")
    fig.tight_layout()
    save_figure(fig, path)


def _ms(level: str, frame_ms: float) -> str:
    """A boundary-distance level ('3' or '5+') in milliseconds."""
    prefix = "\u2265" if level.endswith("+") else ""
    return f"{prefix}{int(level.rstrip('+')) * frame_ms:g} ms"
