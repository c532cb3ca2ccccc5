"""The index of the dump: per subset a table row-aligned with the arrays, joining the frame
labels, pitch and speakers: ``utt_id, frame, speaker, gender, phone, is_mid, f0_hz, pitch_bin,
split``. It does not depend on the model's outputs, so changing the pitch binning reruns the
index (and what follows), never the model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.activations.selection import SUBSETS
from speechneurons.errors import BadInputError
from speechneurons.io import write_table

INDEX_COLUMNS = ["utt_id", "frame", "speaker", "gender", "phone", "is_mid", "f0_hz", "pitch_bin", "split"]


def build_index(
    selection: pd.DataFrame, labels: pd.DataFrame, pitch: pd.DataFrame, manifest: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Per subset, the index table row-aligned with the arrays (columns INDEX_COLUMNS)."""
    sel = selection.copy()
    sel["utt_id"] = sel["utt_id"].astype(str)
    lab = labels[["utt_id", "frame", "phone", "is_mid"]].copy()
    pit = pitch[["utt_id", "frame", "f0_hz", "pitch_bin"]].copy()
    man = manifest[["utt_id", "speaker", "gender", "split"]].copy()
    for df in (lab, pit, man):
        df["utt_id"] = df["utt_id"].astype(str)
    for df in (lab, pit):
        df["frame"] = df["frame"].astype(np.int64)
    sel["frame"] = sel["frame"].astype(np.int64)
    out = sel.merge(lab, on=["utt_id", "frame"], how="left", validate="many_to_one")
    out = out.merge(pit, on=["utt_id", "frame"], how="left", validate="many_to_one", indicator=True)
    missing = out[out["_merge"] != "both"]
    if len(missing):
        u = missing["utt_id"].iloc[0]
        raise BadInputError(
            "pitch_frames.parquet",
            f"{len(missing)} selected frames have no pitch row (e.g. {u} frame {missing['frame'].iloc[0]})",
            "Re-run the pitch stage: its frames must be on the same frame grid as the labels",
        )
    out = out.drop(columns="_merge").merge(man, on="utt_id", how="left", validate="many_to_one")
    if out["phone"].isna().any():
        raise BadInputError(
            "frame_labels.parquet",
            "selected frames missing from the frame labels",
            "Re-run select_frames after the labels",
        )
    out["pitch_bin"] = out["pitch_bin"].astype(np.int64)
    out["is_mid"] = out["is_mid"].astype(bool)
    result = {}
    for subset in SUBSETS:
        part = out[out["subset"] == subset].sort_values("row")
        if not np.array_equal(part["row"].to_numpy(), np.arange(len(part))):
            raise ValueError(f"selection rows of subset {subset} are not 0..n-1")
        result[subset] = part[INDEX_COLUMNS].reset_index(drop=True)
    return result


def write_index(index: dict[str, pd.DataFrame], paths: dict[str, str | Path]) -> None:
    for subset, path in paths.items():
        write_table(index[subset], path)
