"""Figures shared by every stage: a headless matplotlib and atomic PNG output."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from speechneurons.io import atomic_path


def save_figure(fig, path: str | Path, dpi: int = 120) -> None:
    """Save ``fig`` as a PNG atomically (temporary sibling, then rename) and close it."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
