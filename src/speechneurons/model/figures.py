"""Figures of the model stage."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from speechneurons.plotting import plt, save_figure


def plot_curve(logs: Sequence[pd.DataFrame], path: str | Path, labels: Sequence[str] | None = None) -> None:
    """Loss and masked accuracy against steps (one colour per iteration, each continuing the
    step axis of the previous one), with chance and the majority-class rate; atomic PNG."""
    labels = labels or [f"iteration {i + 1}" for i in range(len(logs))]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    offset = 0
    for i, (df, lab) in enumerate(zip(logs, labels)):
        c = f"C{i}"
        x = df["step"] + offset  # later iterations continue the step axis
        offset += int(df["step"].max()) if len(df) else 0
        ax1.plot(x, df["loss"], color=c, label=f"{lab}: total")
        if "loss_masked" in df:
            ax1.plot(x, df["loss_masked"], color=c, ls="--", label=f"{lab}: masked frames")
        ax2.plot(x, df["masked_acc"], color=c, label=f"{lab}: masked accuracy")
        if len(df):
            ax2.axhline(df["chance"].iloc[0], color=c, ls=":", lw=1, label=f"{lab}: chance 1/K")
            ax2.axhline(df["majority_rate"].iloc[0], color=c, ls="--", lw=1, label=f"{lab}: majority class")
    ax1.set(xlabel="step (iterations one after the other)", ylabel="cross-entropy", title="Pretraining loss")
    ax2.set(
        xlabel="step (iterations one after the other)",
        ylabel="accuracy",
        title="Masked-prediction accuracy",
        ylim=(0, None),
    )
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=120)
