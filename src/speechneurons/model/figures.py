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


def plot_heldout_curve(heldout: pd.DataFrame, logs: Sequence[pd.DataFrame], path: str | Path) -> None:
    """Masked-prediction accuracy against steps: on held-out utterances at every checkpoint
    (markers), on the training batches as logged (thin line), with chance (1/K) and the
    majority-class rate of the held-out targets; iterations one after the other."""
    fig, ax = plt.subplots(figsize=(7.5, 4))
    offset = 0
    for i, log in enumerate(logs, start=1):
        c = f"C{i - 1}"
        if len(log):
            ax.plot(log["step"] + offset, log["masked_acc"], color=c, lw=0.8, alpha=0.5,
                    label=f"iteration {i}: training batches")  # fmt: skip
        rows = heldout[heldout["iteration"] == i]
        ax.plot(rows["step"], rows["masked_acc"], "o-", color=c, label=f"iteration {i}: held-out utterances")
        if len(rows):
            ax.axhline(rows["chance"].iloc[0], color=c, ls=":", lw=1, label=f"iteration {i}: chance 1/K")
            ax.axhline(rows["majority_rate"].iloc[0], color=c, ls="--", lw=1, label=f"iteration {i}: majority class")
        offset += int(log["step"].max()) if len(log) else 0
    ax.set(xlabel="step (iterations one after the other)", ylabel="masked-prediction accuracy", ylim=(0, None),
           title="Masked prediction: held-out utterances at each checkpoint")  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path)
