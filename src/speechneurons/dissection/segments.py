"""Phone segments and their word context, rebuilt from the frame labels.

The frame-label table (utt_id, frame, phone, word, is_mid; one row per model frame) is the only
timing a stage after the alignment reads. A *segment* is a maximal run of frames of one
utterance with the same phone and word; a run holding m > 1 middle frames (two adjacent
segments of the same phone in the same word) is split between consecutive middle frames, at
frame floor((mid_i + mid_{i+1}) / 2) + 1. Every speech segment then has exactly one middle frame.

Word tokens are maximal runs of consecutive speech segments with the same non-empty word label.
The position of a segment in its token is ``single`` (one segment), ``initial``, ``final`` or
``medial``. Neighbours are the previous and next segments of the utterance ('sil' at its edges).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from speechneurons.phones import PHONE_TO_TYPE, is_speech_phone

SEGMENT_COLUMNS = [
    "utt_id",
    "first_frame",
    "last_frame",
    "n_frames",
    "mid_frame",
    "phone",
    "word",
    "word_position",
    "prev_phone",
    "next_phone",
]


def phone_type_or_silence(phone: str) -> str:
    """The phone type of a speech phone, else 'silence' (sil, spn)."""
    return PHONE_TO_TYPE.get(phone, "silence")


def segments_from_frames(frames: pd.DataFrame) -> pd.DataFrame:
    """One row per segment (all segments, silence included), in utterance and time order.

    Columns: utt_id, first_frame, last_frame, n_frames, mid_frame (-1 when the run has no
    middle frame), phone, word, word_position ('' for silence), prev_phone, next_phone.
    """
    f = frames.sort_values(["utt_id", "frame"], kind="stable").reset_index(drop=True)
    utt = f["utt_id"].to_numpy(dtype=object)
    phone = f["phone"].to_numpy(dtype=object)
    word = f["word"].fillna("").to_numpy(dtype=object)
    frame = f["frame"].to_numpy(dtype=np.int64)
    is_mid = f["is_mid"].to_numpy(dtype=bool)
    n = len(f)
    change = np.ones(n, dtype=bool)
    if n > 1:
        change[1:] = (
            (utt[1:] != utt[:-1]) | (phone[1:] != phone[:-1]) | (word[1:] != word[:-1]) | (frame[1:] != frame[:-1] + 1)
        )
    run_id = np.cumsum(change) - 1
    mids_per_run = np.bincount(run_id, weights=is_mid.astype(float)).astype(int)
    for r in np.flatnonzero(mids_per_run > 1):  # rare: same phone twice in a row inside one word
        rows = np.flatnonzero(run_id == r)
        mids = rows[is_mid[rows]]
        for a, b in zip(mids[:-1], mids[1:]):
            change[(a + b) // 2 + 1] = True
    seg = np.cumsum(change) - 1
    starts = np.flatnonzero(change)
    ends = np.r_[starts[1:], n] - 1
    mid_row = np.full(len(starts), -1, dtype=np.int64)
    mid_row[seg[is_mid]] = np.flatnonzero(is_mid)
    out = pd.DataFrame(
        {
            "utt_id": utt[starts],
            "first_frame": frame[starts],
            "last_frame": frame[ends],
            "n_frames": ends - starts + 1,
            "mid_frame": np.where(mid_row >= 0, frame[np.maximum(mid_row, 0)], -1),
            "phone": phone[starts],
            "word": word[starts],
        }
    )
    same_utt_prev = np.r_[False, out["utt_id"].to_numpy()[1:] == out["utt_id"].to_numpy()[:-1]]
    same_utt_next = np.r_[same_utt_prev[1:], False]
    ph = out["phone"].to_numpy(dtype=object)
    prev, nxt = np.full(len(ph), "sil", dtype=object), np.full(len(ph), "sil", dtype=object)
    prev[1:], nxt[:-1] = ph[:-1], ph[1:]
    out["prev_phone"] = np.where(same_utt_prev, prev, "sil")
    out["next_phone"] = np.where(same_utt_next, nxt, "sil")
    out["word_position"] = _word_positions(out)
    return out[SEGMENT_COLUMNS]


def _word_positions(seg: pd.DataFrame) -> np.ndarray:
    """single / initial / medial / final of each speech segment in its word token; '' otherwise."""
    speech = np.array([is_speech_phone(p) for p in seg["phone"]], dtype=bool)
    word = seg["word"].to_numpy(dtype=object)
    utt = seg["utt_id"].to_numpy(dtype=object)
    in_word = speech & (word != "")
    n = len(seg)
    new_token = np.ones(n, dtype=bool)
    if n > 1:
        new_token[1:] = ~(in_word[1:] & in_word[:-1] & (word[1:] == word[:-1]) & (utt[1:] == utt[:-1]))
    token = np.cumsum(new_token) - 1
    size = np.bincount(token)[token]
    rank = np.arange(n) - np.flatnonzero(new_token)[token]
    pos = np.where(size == 1, "single", np.where(rank == 0, "initial", np.where(rank == size - 1, "final", "medial")))
    return np.where(in_word, pos, "").astype(object)
