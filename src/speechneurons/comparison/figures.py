"""The comparison figure: property-neuron share against relative depth, every model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.plotting import plt, save_figure
from speechneurons.properties.reference import REFERENCE_COUNTS, REFERENCE_D, REFERENCE_LAYERS

TITLES = {"phone_type": "phone-type neurons", "gender": "gender neurons", "pitch": "pitch neurons"}


def plot_property_share(summary: pd.DataFrame, path: str | Path, title: str = "") -> None:
    """One panel per property: property neurons as % of D against relative depth, one line per
    (corpus, model) with its bootstrap interval as a band where there is one, and Lin et al.'s
    MelHuBERT (dashed black). ``summary``: :func:`speechneurons.comparison.tables.with_depth`."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 4), sharey=False)
    ref_x = np.arange(1, REFERENCE_LAYERS + 1) / REFERENCE_LAYERS
    pairs = list(summary[["corpus", "model"]].drop_duplicates().itertuples(index=False))
    colours = plt.get_cmap("tab10")
    for ax, prop in zip(axes, ("phone_type", "gender", "pitch")):
        for i, (corpus, model) in enumerate(pairs):
            d = summary[(summary["corpus"] == corpus) & (summary["model"] == model)].sort_values("layer")
            label = model if summary["corpus"].nunique() == 1 else f"{model} on {corpus}"
            ax.plot(d["relative_depth"], d[f"share_{prop}"], marker="o", color=colours(i % 10), label=label)
            if f"ci_low_n_{prop}" in d and d[f"ci_low_n_{prop}"].notna().all():
                ax.fill_between(d["relative_depth"], 100 * d[f"ci_low_n_{prop}"] / d["D"],
                                100 * d[f"ci_high_n_{prop}"] / d["D"], color=colours(i % 10), alpha=0.15)  # fmt: skip
        ax.plot(ref_x, 100 * np.asarray(REFERENCE_COUNTS[prop]) / REFERENCE_D, ls="--", color="black",
                label="MelHuBERT, LibriSpeech (Lin et al. 2024)")  # fmt: skip
        ax.set(xlabel="relative depth (layer / number of layers)", ylabel="property neurons (% of D)",
               title=TITLES[prop], xlim=(0, 1.05))  # fmt: skip
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="x-small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path)
