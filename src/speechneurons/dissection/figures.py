"""Figures of the dissection stage.

- :func:`plot_uninterpretable`: the uninterpretable share per layer and item kind, with its
  chance level (item attributes permuted across items) as a band;
- :func:`plot_agreement`: per property, the share of property neurons whose top concept is their
  own group, per layer, against the same share with the concept labels shuffled across items;
- :func:`plot_pruning`: per concept family, dA and dR of pruning each concept's tagged neurons
  next to the activation-rate-matched random control, with bootstrap intervals.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.plotting import plt, save_figure

KIND_COLOURS = {"phone": "#4c72b0", "utterance": "#dd8452"}
PROPERTY_TITLES = {"phone_type": "Phone-type neurons", "gender": "Gender neurons", "pitch": "Pitch neurons"}
MEASURES = {"within": "top concept of its property = own group", "top1": "top concept overall = own group"}


def plot_uninterpretable(summary: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """Uninterpretable share (%) against layer, one line per item kind, chance as a dashed band."""
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for kind, g in summary.groupby("kind", sort=False):
        g = g.sort_values("layer")
        colour = KIND_COLOURS.get(kind)
        ax.plot(g["layer"], 100 * g["uninterpretable_share"], "o-", color=colour, label=f"{kind} items")
        ax.plot(g["layer"], 100 * g["chance_share"], "--", color=colour, lw=1, label=f"{kind} items, shuffled")
        ax.fill_between(g["layer"], 100 * g["chance_lo"], 100 * g["chance_hi"], color=colour, alpha=0.15, lw=0)
    ax.set_xlabel("layer")
    ax.set_ylabel("uninterpretable neurons (%)")
    ax.set_ylim(0, 105)
    ax.set_xticks(sorted(summary["layer"].unique()))
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title(title or "Neurons whose top items share no attribute")
    save_figure(fig, path)


def plot_agreement(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """One panel per (measure, property) on phone items: observed share (%) per layer, on the
    held-out items when there are any, with the shuffled-label null (mean, 2.5-97.5 % band)."""
    t = table[table["kind"] == "phone"]
    split = "held_out" if (t["split"] == "held_out").any() else "selected"
    t = t[(t["split"] == split) & (t["n"] > 0)]
    props = [p for p in PROPERTY_TITLES if p in set(t["property"])] or ["phone_type"]
    fig, axes = plt.subplots(2, len(props), figsize=(3.6 * len(props), 5.6), squeeze=False, sharex=True)
    for r, (measure, label) in enumerate(MEASURES.items()):
        for c, prop in enumerate(props):
            ax = axes[r, c]
            g = t[(t["property"] == prop) & (t["measure"] == measure)].sort_values("layer")
            if len(g):
                ax.fill_between(g["layer"], 100 * g["null_lo"], 100 * g["null_hi"], color="grey", alpha=0.2, lw=0)
                ax.plot(g["layer"], 100 * g["null_mean"], "--", color="grey", label="shuffled labels")
                ax.plot(g["layer"], 100 * g["observed"], "o-", color="#4c72b0", label="observed")
                for x, y, n in zip(g["layer"], g["observed"], g["n"]):
                    ax.annotate(f"n={n}", (x, 100 * y), fontsize=7, xytext=(0, 4), textcoords="offset points",
                                ha="center")  # fmt: skip
            ax.set_ylim(-5, 110)
            ax.set_title(f"{PROPERTY_TITLES[prop]}", fontsize=9)
            if c == 0:
                ax.set_ylabel(f"agreement (%)\n{label}", fontsize=8)
            if r == 1:
                ax.set_xlabel("layer")
            if r == 0 and c == 0:
                ax.legend(fontsize=7)
    fig.suptitle(title or f"Top concept against the property-neuron group ({split.replace('_', '-')} items)")
    fig.tight_layout()
    save_figure(fig, path)


def plot_pruning(table: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """One panel per family: for each pruned concept (and their mean), dA and dR of the tagged
    neurons and of the random control, with their intervals; concepts not pruned are marked."""
    families = list(dict.fromkeys(table["family"]))
    fig, axes = plt.subplots(1, max(len(families), 1), figsize=(4.6 * max(len(families), 1), 3.8), squeeze=False)
    bars = [("tagged", "dA", "#4c72b0", None), ("tagged", "dR", "#4c72b0", "//"),
            ("control", "dA", "#8c8c8c", None), ("control", "dR", "#8c8c8c", "//")]  # fmt: skip
    for ax, family in zip(axes.flat, families):
        g = table[table["family"] == family]
        concepts = list(dict.fromkeys(g["concept"]))
        x = np.arange(len(concepts))
        width = 0.2
        for i, (arm, metric, colour, hatch) in enumerate(bars):
            s = g[g["arm"] == arm].set_index("concept").reindex(concepts)
            value = s[metric].to_numpy(dtype=float)
            err = np.vstack([value - s[f"{metric}_lo"].to_numpy(float), s[f"{metric}_hi"].to_numpy(float) - value])
            err = np.where(np.isfinite(err), np.clip(err, 0, None), 0)
            ax.bar(x + (i - 1.5) * width, np.nan_to_num(value), width, yerr=err, color=colour, hatch=hatch,
                   edgecolor="white" if hatch else colour, capsize=2, label=f"{metric} {arm}")  # fmt: skip
        for i, c in enumerate(concepts):
            if (g.loc[g["concept"] == c, "status"] != "pruned").all():
                ax.text(i, 0, "not pruned\n(no tagged neuron)", ha="center", va="bottom", fontsize=7, rotation=90)
        ax.axhline(0, color="black", lw=0.8)
        ax.set_xticks(x)
        ax.set_xticklabels([c.split("=", 1)[-1].replace("_", " ") for c in concepts], rotation=30, ha="right",
                           fontsize=8)  # fmt: skip
        ax.set_title(family.replace("_", " "), fontsize=10)
        ax.set_ylabel("drop of the own-class logit (probe units)")
        ax.set_xlabel("pruned concept")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(title or "Concept-specific pruning: dA (own concept) and dR (other concepts)")
    fig.tight_layout()
    save_figure(fig, path)
