"""Which frames the dump stores: two subsets of (utt_id, frame) rows of the frame labels, each
ordered by (manifest order of the utterance, frame) and numbered ``row`` = 0..n-1:

- ``mid``: every middle frame (``is_mid``) of a speech phone (the 39 phones; no sil/spn), for
  the property statistics;
- ``sample``: a uniform sample without replacement of ``sample_frames`` of all frames (all of
  them when fewer), drawn with ``numpy.random.default_rng(seed)``, for probes and SAEs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from speechneurons.phones import PHONE_TO_TYPE

SUBSETS = ("mid", "sample")


def select_frames(labels: pd.DataFrame, manifest: pd.DataFrame, sample_frames: int, seed: int) -> pd.DataFrame:
    """The rows to dump: columns ``utt_id, frame, subset, row, n_label_frames``.

    ``labels`` has ``utt_id, frame, phone, is_mid`` (one row per model frame); only
    utterances of the manifest are used, in manifest order.
    """
    order = {u: i for i, u in enumerate(manifest["utt_id"].astype(str))}
    lab = labels[["utt_id", "frame", "phone", "is_mid"]].copy()
    lab["utt_id"] = lab["utt_id"].astype(str)
    lab = lab[lab["utt_id"].isin(order)]
    lab["_order"] = lab["utt_id"].map(order)
    lab = lab.sort_values(["_order", "frame"], kind="stable").reset_index(drop=True)
    lab["n_label_frames"] = lab.groupby("utt_id")["frame"].transform("size").astype(np.int64)
    is_speech = lab["phone"].astype(str).isin(PHONE_TO_TYPE.keys())
    mid = lab[lab["is_mid"].astype(bool) & is_speech]
    rng = np.random.default_rng(seed)
    n = len(lab)
    take = np.sort(rng.choice(n, size=min(int(sample_frames), n), replace=False)) if n else np.array([], int)
    sample = lab.iloc[take]
    parts = []
    for name, part in (("mid", mid), ("sample", sample)):
        part = part[["utt_id", "frame", "n_label_frames"]].copy()
        part.insert(2, "subset", name)
        part.insert(3, "row", np.arange(len(part), dtype=np.int64))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["frame"] = out["frame"].astype(np.int64)
    return out
