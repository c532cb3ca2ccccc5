"""Figures of the property-neuron statistics (matplotlib, Agg, PNG written atomically).

- :func:`plot_counts_per_layer`: property neurons per layer for each property (left) and group
  neurons per layer for each group (right), from ``summary.tsv``;
- :func:`plot_overlaps_per_layer`: |P_a & P_b| for the three pairs and |P_phone & P_gender &
  P_pitch| per layer (raw intersections);
- :func:`plot_venn`: Venn diagram of the three property-neuron sets of one layer, drawn from the
  EXCLUSIVE region sizes (:func:`speechneurons.properties.venn3_regions`), not from raw
  intersections;
- :func:`plot_heatmaps`: P(j | c, g) of the strongest neurons of every group (exclusive
  group neurons first, then by R_g, mean P over C_g and index), phones of C_g as rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.colors import LogNorm

from speechneurons.plotting import plt, save_figure
from speechneurons.properties.reference import REFERENCE_COUNTS, REFERENCE_D
from speechneurons.properties.statistic import PROPERTIES, property_groups, venn3_regions
from speechneurons.properties.tables import npz_key

LABELS = {"phone_type": "phone type", "gender": "gender", "pitch": "pitch"}
COLORS = {"phone_type": "tab:blue", "gender": "tab:red", "pitch": "tab:green"}


def relative_depth(layers: np.ndarray) -> np.ndarray:
    """Layer l of L layers -> l / L, so models of different depth share one axis."""
    layers = np.asarray(layers, dtype=float)
    return layers / layers.max() if len(layers) else layers


def _group_columns(summary: pd.DataFrame, prop: str) -> list[str]:
    return [c for c in summary.columns if c.startswith(f"group_{prop}_")]


def plot_counts_per_layer(
    summary: pd.DataFrame, path: str | Path, title: str = "", random_weights: pd.DataFrame | None = None
) -> None:
    """Property neurons per layer (left) with their bootstrap interval (error bars), their
    chance level (the permutation null's 95 % range, shaded) and the counts of the same architecture with random weights
    (dotted), group neurons per layer (middle), and the share of property neurons (% of D)
    against relative depth next to Lin et al.'s MelHuBERT (right)."""
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(16, 4))
    x = summary["layer"].to_numpy()
    ref_x = relative_depth(np.arange(1, 13))
    for prop in PROPERTIES:
        n = summary[f"n_{prop}"].to_numpy(dtype=float)
        if f"ci_low_n_{prop}" in summary:  # bootstrap interval over speakers, centred on the count
            err = np.clip([n - summary[f"ci_low_n_{prop}"], summary[f"ci_high_n_{prop}"] - n], 0, None)
            ax1.errorbar(x, n, yerr=err, marker="o", capsize=3, color=COLORS[prop], label=LABELS[prop])
        else:
            ax1.plot(x, n, marker="o", color=COLORS[prop], label=LABELS[prop])
        if f"chance_n_{prop}" in summary:
            ax1.fill_between(x, summary[f"chance_low_n_{prop}"], summary[f"chance_high_n_{prop}"], color=COLORS[prop],
                             alpha=0.15, label=f"{LABELS[prop]}: labels permuted (95 %)")  # fmt: skip
        if random_weights is not None and len(random_weights):
            ax1.plot(random_weights["layer"], random_weights[f"n_{prop}"], ls=":", marker=".", color=COLORS[prop],
                     label=f"{LABELS[prop]}: random weights")  # fmt: skip
        share = 100 * summary[f"n_{prop}"].to_numpy() / summary["D"].to_numpy()
        ax3.plot(relative_depth(x), share, marker="o", color=COLORS[prop], label=f"{LABELS[prop]} (this run)")
        ax3.plot(
            ref_x,
            100 * np.array(REFERENCE_COUNTS[prop]) / REFERENCE_D,
            ls="--",
            color=COLORS[prop],
            alpha=0.6,
            label=f"{LABELS[prop]} (Lin et al., MelHuBERT)",
        )
        styles = iter(["-", "--", ":", "-."] * 4)
        for col in _group_columns(summary, prop):
            g = col[len(f"group_{prop}_") :]
            ax2.plot(x, summary[col], marker=".", ls=next(styles), color=COLORS[prop], label=f"{LABELS[prop]}: {g}")
    ax1.set(xlabel="layer", ylabel="property neurons", title="property neurons (exclusive union)")
    ax2.set(xlabel="layer", ylabel="group neurons |N_g|", title="group neurons")
    ax3.set(
        xlabel="relative depth (layer / number of layers)",
        ylabel="property neurons (% of D)",
        title="share of neurons, against the reference",
        xlim=(0, 1.05),
    )
    ax1.legend(fontsize="x-small")
    ax2.legend(fontsize="x-small", ncol=2)
    ax3.legend(fontsize="x-small", ncol=2, loc="best")
    for ax in (ax1, ax2):
        ax.set_xticks(x)
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    save_figure(fig, path)


def plot_overlaps_per_layer(summary: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Pairwise and triple intersections of the property-neuron sets per layer."""
    fig, ax = plt.subplots(figsize=(6, 4))
    x = summary["layer"].to_numpy()
    pairs = [("phone_type", "gender"), ("phone_type", "pitch"), ("gender", "pitch")]
    for a, b in pairs:
        ax.plot(x, summary[f"overlap_{a}_{b}"], marker="o", label=f"{LABELS[a]} ∩ {LABELS[b]}")
    ax.plot(x, summary["overlap_all"], marker="s", color="k", label="all three")
    ax.set(xlabel="layer", ylabel="shared property neurons", title=title or "overlap of property neurons")
    ax.set_xticks(x)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def draw_venn(ax, neurons: Mapping):
    """Draw the layer's Venn diagram on ``ax`` from the EXCLUSIVE region sizes; returns the
    matplotlib-venn VennDiagram (its region labels are those sizes)."""
    from matplotlib_venn import venn3
    from matplotlib_venn.layout.venn3 import DefaultLayoutAlgorithm

    sets = [set(neurons["property_neurons"][p]) for p in PROPERTIES]
    regions = venn3_regions(*sets)
    labels = tuple(f"{LABELS[p]} ({len(s)})" for p, s in zip(PROPERTIES, sets))
    # Area-weighted diagrams need every set non-empty; otherwise draw the unweighted layout
    # (the numbers are the same exclusive region sizes).
    layout = None if all(sets) else DefaultLayoutAlgorithm(fixed_subset_sizes=(1,) * 7)
    return venn3(subsets=regions, set_labels=labels, ax=ax, layout_algorithm=layout)


def plot_venn(neurons: Mapping, path: str | Path, title: str = "") -> tuple[int, ...]:
    """Venn diagram of the layer's phone-type, gender and pitch neurons; returns the exclusive
    region sizes in venn3 order (Abc, aBc, ABc, abC, AbC, aBC, ABC)."""
    fig, ax = plt.subplots(figsize=(5, 5))
    draw_venn(ax, neurons)
    ax.set_title(title or f"layer {neurons['layer']}: property neurons (D = {neurons['D']})")
    save_figure(fig, path)
    return venn3_regions(*(neurons["property_neurons"][p] for p in PROPERTIES))


def strongest_neurons(
    R: np.ndarray, P: np.ndarray, in_C: np.ndarray, n: int, first: np.ndarray | None = None
) -> np.ndarray:
    """The n strongest neurons of a group: those flagged in ``first`` (the exclusive group
    neurons) before the rest, then by R_g descending, mean P over C_g descending, index."""
    meanP = np.nan_to_num(np.nanmean(P[in_C], axis=0), nan=0.0) if in_C.any() else np.zeros(len(R))
    first = np.zeros(len(R), dtype=bool) if first is None else np.asarray(first, dtype=bool)
    order = np.lexsort((np.arange(len(R)), -meanP, -R, ~first))
    return order[: min(n, len(R))]


def plot_heatmaps(
    npz: Mapping[str, np.ndarray],
    R: pd.DataFrame,
    counts: pd.DataFrame,
    neurons: Mapping,
    path: str | Path,
    n_neurons: int,
    n_pitch_bins: int,
) -> None:
    """P(j | c, g) heat maps, one panel per group: rows = phones of C_g, columns = the group's
    strongest neurons (* marks group neurons N_g)."""
    groups = property_groups(n_pitch_bins)
    phones = [str(p) for p in npz["phones"]]
    ncols = max(len(g) for g in groups.values())
    fig, axes = plt.subplots(
        len(groups), ncols, figsize=(4.2 * ncols, 4.8 * len(groups)), squeeze=False, layout="constrained"
    )
    # Log colour scale around chance (tau / D) so that selective but rare firing is visible;
    # P below chance / 4 (including 0) is drawn at the bottom of the scale.
    chance = neurons["tau"] / neurons["D"]
    norm = LogNorm(vmin=chance / 4, vmax=1.0)
    image = None
    for r, (prop, names) in enumerate(groups.items()):
        for c in range(ncols):
            ax = axes[r, c]
            if c >= len(names):
                ax.axis("off")
                continue
            g = names[c]
            P = npz[npz_key("P", prop, g)]
            sub = counts[(counts["property"] == prop) & (counts["group"].astype(str) == g)]
            in_C = np.array([bool(sub.set_index("phone")["in_C"].get(p, False)) for p in phones])
            Rg = R[(R["property"] == prop) & (R["group"].astype(str) == g)].sort_values("neuron")["R"].to_numpy()
            members = set(neurons["group_neurons"][prop][g])
            exclusive = set(neurons["exclusive_group_neurons"][prop][g])
            ax.set_title(
                f"{LABELS[prop]} = {g.replace('_', ' ')}\n|N_g| = {len(members)}, "
                f"exclusive {len(exclusive)}, |C_g| = {int(in_C.sum())}",
                fontsize=9,
            )
            if not in_C.any():
                ax.text(0.5, 0.5, "no phone with enough frames", ha="center", va="center", transform=ax.transAxes)
                ax.set_xticks([])
                ax.set_yticks([])
                continue
            top = strongest_neurons(Rg, P, in_C, n_neurons, first=np.isin(np.arange(len(Rg)), list(exclusive)))
            rows = np.flatnonzero(in_C)
            image = ax.imshow(
                np.clip(P[np.ix_(rows, top)], chance / 4, 1.0),
                aspect="auto",
                norm=norm,
                cmap="viridis",
                interpolation="nearest",
            )
            ax.set_xticks(range(len(top)))
            ax.set_xticklabels(
                [f"{j}+" if j in exclusive else f"{j}*" if j in members else str(j) for j in top],
                rotation=90,
                fontsize=6,
            )
            ax.set_yticks(range(len(rows)))
            ax.set_yticklabels([phones[i] for i in rows], fontsize=5 if len(rows) > 20 else 7)
    if image is not None:
        bar = fig.colorbar(
            image, ax=axes.ravel().tolist(), shrink=0.6, label="P(j | c, g), log scale (white line: chance tau / D)"
        )
        bar.ax.axhline(chance, color="w", lw=2)
    fig.suptitle(
        f"layer {neurons['layer']}: P(j | c, g) of the strongest neurons per group "
        f"(tau = {neurons['tau']}/{neurons['D']}, chance = {neurons['tau'] / neurons['D']:.3f}; "
        "+ exclusive group neuron, * other group neuron)"
    )
    save_figure(fig, path)
