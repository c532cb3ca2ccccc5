"""Figures of the align stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.plotting import plt, save_figure


def plot_quality(table: pd.DataFrame, errors: dict[str, np.ndarray], path: str | Path, title: str = "") -> None:
    """Left: share of boundaries within 20 / 50 ms per voice; right: CDF of boundary errors."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    t = table.reset_index(drop=True)
    x = np.arange(len(t))
    ax1.bar(x - 0.2, t.within_20ms, 0.4, label="within 20 ms")
    ax1.bar(x + 0.2, t.within_50ms, 0.4, label="within 50 ms")
    ax1.set_xticks(x, t.speaker, rotation=60, ha="right", fontsize=7)
    ax1.set_ylim(0, 1)
    ax1.set_ylabel("share of boundaries")
    ax1.axhline(0.8, color="grey", lw=0.8, ls="--")
    ax1.legend(fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    for e in errors.values():
        if e.size:
            ax2.plot(np.sort(e) * 1000, np.arange(1, e.size + 1) / e.size, lw=0.8, alpha=0.6)
    all_e = (
        np.concatenate([e for e in errors.values() if e.size]) if any(e.size for e in errors.values()) else np.zeros(0)
    )
    if all_e.size:
        ax2.plot(
            np.sort(all_e) * 1000, np.arange(1, all_e.size + 1) / all_e.size, color="black", lw=2, label="all voices"
        )
        ax2.legend(fontsize=8)
    ax2.set_xscale("symlog", linthresh=10)
    ax2.axvline(20, color="grey", lw=0.8, ls="--")
    ax2.axvline(50, color="grey", lw=0.8, ls=":")
    ax2.set_xlabel("absolute boundary error (ms)")
    ax2.set_ylabel("cumulative share")
    fig.suptitle(title)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
