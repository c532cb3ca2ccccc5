"""Figures of the pitch stage."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from speechneurons.pitch.groups import POOLED
from speechneurons.plotting import plt, save_figure


def plot_f0_distributions(
    frames: pd.DataFrame, speakers: pd.DataFrame, info: Mapping, path: str, title: str = ""
) -> None:
    """Figure: F0 histograms of voiced frames per gender (left) and per-speaker box plots
    (right), with the cut points as dashed lines. ``speakers``: utt_id, speaker, gender."""
    colours = {"F": "tab:red", "M": "tab:blue", POOLED: "black"}
    v = frames.loc[frames["voiced"].astype(bool), ["utt_id", "f0_hz"]]
    v = v.merge(speakers[["utt_id", "speaker", "gender"]], on="utt_id", how="left")
    v["speaker"] = v["speaker"].astype(str)
    v["gender"] = v["gender"].fillna("?").astype(str)
    order = (
        v.groupby(["gender", "speaker"])["f0_hz"].median().reset_index().sort_values(["gender", "f0_hz"])
        if len(v)
        else pd.DataFrame(columns=["gender", "speaker", "f0_hz"])
    )
    n_spk = max(len(order), 1)
    fig, (ax_g, ax_s) = plt.subplots(
        1, 2, figsize=(12, max(4.0, 0.22 * n_spk + 1.5)), gridspec_kw={"width_ratios": [1, 1.2]}
    )
    lo, hi = np.nanpercentile(v["f0_hz"], [0.1, 99.9]) if len(v) else (50.0, 500.0)
    bins = np.geomspace(max(lo * 0.9, 20.0), hi * 1.1, 60)
    for g, sub in v.groupby("gender"):
        ax_g.hist(
            sub["f0_hz"],
            bins=bins,
            alpha=0.5,
            color=colours.get(g, "grey"),
            label=f"{g} ({sub['speaker'].nunique()} spk, {len(sub)} frames)",
        )
    for key, cuts in info["cut_points_hz"].items():
        for i, c in enumerate(cuts):
            lab = f"cut points ({key})" if i == 0 else None
            ax_g.axvline(c, ls="--", color=colours.get(key, "grey"), label=lab)
            ax_s.axvline(c, ls="--", color=colours.get(key, "grey"))
    ax_g.set_xscale("log")
    ax_g.set_xlabel("F0 (Hz, log scale)")
    ax_g.set_ylabel("voiced frames")
    ax_g.set_title("F0 per gender")
    ax_g.legend(fontsize=8)
    data = [v.loc[v["speaker"] == s, "f0_hz"].to_numpy() for s in order["speaker"]]
    if data:
        box = ax_s.boxplot(data, orientation="horizontal", showfliers=False, patch_artist=True)
        for patch, g in zip(box["boxes"], order["gender"]):
            patch.set_facecolor(colours.get(g, "grey"))
            patch.set_alpha(0.5)
        ax_s.set_yticks(
            range(1, len(order) + 1), [f"{s} ({g})" for s, g in zip(order["speaker"], order["gender"])], fontsize=7
        )
    ax_s.set_xscale("log")
    ax_s.set_xlabel("F0 (Hz, log scale)")
    ax_s.set_title("F0 per speaker (box: quartiles, whiskers: 1.5 IQR)")
    ticks = [t for t in (50, 60, 80, 100, 120, 150, 200, 250, 300, 400, 500, 600) if bins[0] <= t <= bins[-1]]
    for ax in (ax_g, ax_s):
        ax.set_xlim(bins[0], bins[-1])
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
    fig.suptitle(title or f"F0 of voiced frames; {info['n_bins']} pitch groups ({info['binning']})")
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
