"""Figures of the corpus stage."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.patches import Patch

from speechneurons.plotting import plt, save_figure


def plot_minutes_per_speaker(manifest: pd.DataFrame, path: str | Path) -> None:
    """Bar chart of minutes of audio per speaker, coloured by gender (PNG, atomic)."""
    per = manifest.groupby(["speaker", "gender"], sort=True)["duration_s"].sum().div(60).reset_index()
    per = per.sort_values(["gender", "speaker"])
    colours = {"F": "tab:red", "M": "tab:blue"}
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(per) + 2), 3.5))
    ax.bar(range(len(per)), per["duration_s"], color=[colours[g] for g in per["gender"]])
    ax.set_xticks(range(len(per)))
    ax.set_xticklabels(per["speaker"], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("minutes")
    total = manifest["duration_s"].sum() / 60
    counts = manifest.groupby("gender")["speaker"].nunique().to_dict()
    ax.set_title(
        f"{total:.1f} min, {len(manifest)} utterances; speakers F={counts.get('F', 0)} M={counts.get('M', 0)}",
        fontsize=9,
    )
    ax.legend(
        handles=[Patch(color=c, label=g) for g, c in colours.items()], fontsize=8, loc="lower right", framealpha=0.9
    )
    fig.tight_layout()
    save_figure(fig, path)
