"""Pitch groups: equal-count bins of the F0 of voiced frames.

With n bins the cut points are the quantiles q_k = k / n (k = 1..n-1) of the F0 of all
voiced frames (numpy's linear interpolation between order statistics), pooled over speakers
('pooled') or computed separately for each gender ('per_gender'). A voiced frame with F0 f
gets bin b = #{k : q_k <= f}, i.e. bin 0 is f < q_1, bin n-1 is f >= q_{n-1}; unvoiced
frames get bin -1 (no group). For n = 3 the cut points are the 33.3rd and 66.7th percentiles.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from speechneurons.errors import BadInputError
from speechneurons.stats import equal_count_bins, equal_count_edges

FRAME_COLUMNS = ["utt_id", "frame", "f0_hz", "voiced", "pitch_bin"]
POOLED = "all"


def cut_points(f0_hz: np.ndarray, n_bins: int) -> np.ndarray:
    """The n_bins - 1 cut points: quantiles k / n_bins of the finite, positive values."""
    if n_bins < 2:
        raise ValueError(f"n_bins must be >= 2, got {n_bins}")
    f0 = np.asarray(f0_hz, dtype=np.float64)
    f0 = f0[np.isfinite(f0) & (f0 > 0)]
    if f0.size == 0:
        raise ValueError("no voiced frames to cut pitch bins from")
    return equal_count_edges(f0, n_bins)


def assign_bins(f0_hz: np.ndarray, voiced: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each frame: #{cut points <= f0} for voiced frames, -1 for unvoiced (int8)."""
    f0 = np.asarray(f0_hz, dtype=np.float64)
    voiced = np.asarray(voiced, dtype=bool) & np.isfinite(f0)
    bins = equal_count_bins(np.where(voiced, f0, 0.0), edges)
    return np.where(voiced, bins, -1).astype(np.int8)


def pitch_groups(
    f0_table: pd.DataFrame,
    n_bins: int,
    binning: str,
    gender_of: Mapping[str, str] | None = None,
    source: str = "f0 table",
) -> tuple[pd.DataFrame, dict]:
    """Add ``pitch_bin`` to an f0 table (utt_id, frame, f0_hz, voiced); return it and the cuts.

    ``binning='per_gender'`` needs ``gender_of`` (utt_id -> 'F'/'M'). The returned dict holds
    the cut points per group key ('all', or each gender), the quantiles, and frame counts.
    """
    if binning not in ("pooled", "per_gender"):
        raise ValueError(f"binning must be 'pooled' or 'per_gender', not {binning!r}")
    table = f0_table[["utt_id", "frame", "f0_hz", "voiced"]].copy()
    voiced = table["voiced"].to_numpy(bool)
    f0 = table["f0_hz"].to_numpy(np.float64)
    if binning == "pooled":
        keys = np.full(len(table), POOLED, dtype=object)
    else:
        if gender_of is None:
            raise ValueError("binning 'per_gender' needs the gender of every utterance")
        keys = table["utt_id"].map(dict(gender_of)).to_numpy(object)
        missing = pd.isna(keys)
        if missing.any():
            first = table["utt_id"].to_numpy()[missing][0]
            raise BadInputError(
                source,
                f"utterance {first} ({int(missing.sum())} frames) has no gender in the manifest",
                "rebuild the pitch table from the current manifest",
            )
    bins = np.full(len(table), -1, dtype=np.int8)
    edges: dict[str, list[float]] = {}
    counts: dict[str, dict] = {}
    for key in sorted(set(keys.tolist())):
        sel = keys == key
        if not np.any(voiced[sel]):
            continue
        e = cut_points(f0[sel & voiced], n_bins)
        bins[sel] = assign_bins(f0[sel], voiced[sel], e)
        edges[str(key)] = [float(x) for x in e]
        counts[str(key)] = {
            "voiced_frames": int(np.count_nonzero(sel & voiced)),
            "frames": int(np.count_nonzero(sel)),
            "per_bin": [int(np.count_nonzero(bins[sel] == b)) for b in range(n_bins)],
        }
    if not edges:
        raise BadInputError(source, "no voiced frames at all", "check the audio and the pitch floor/ceiling")
    table["pitch_bin"] = bins
    info = {
        "binning": binning,
        "n_bins": int(n_bins),
        "quantiles": [float(q) for q in np.arange(1, n_bins) / n_bins],
        "cut_points_hz": edges,
        "counts": counts,
        "rule": "bin = number of cut points <= f0_hz for voiced frames; -1 for unvoiced",
    }
    return table, info
