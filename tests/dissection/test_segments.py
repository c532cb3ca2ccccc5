import pandas as pd

from speechneurons.dissection.segments import segments_from_frames


def frames(rows):
    return pd.DataFrame(rows, columns=["utt_id", "frame", "phone", "word", "is_mid"])


def test_segments_words_and_neighbours():
    # sil | S IY (word SEE) | T T (two segments of T inside 'TT': split between the middle frames) | AH (word A) | sil
    labels = [("sil", "", 2), ("S", "SEE", 2), ("IY", "SEE", 3)]
    rows, t = [], 0
    for phone, word, n in labels:
        rows += [("u", t + i, phone, word, i == (n - 1) // 2) for i in range(n)]
        t += n
    # T T within word 'TT': frames 7..12, middle frames 7 (of 7-8) and 10 (of 9-12)
    rows += [
        ("u", 7, "T", "TT", True),
        ("u", 8, "T", "TT", False),
        ("u", 9, "T", "TT", False),
        ("u", 10, "T", "TT", True),
        ("u", 11, "T", "TT", False),
        ("u", 12, "T", "TT", False),
    ]
    rows += [("u", 13, "AH", "A", True), ("u", 14, "sil", "", True), ("v", 0, "M", "ME", True)]
    seg = segments_from_frames(frames(rows))
    assert seg["phone"].tolist() == ["sil", "S", "IY", "T", "T", "AH", "sil", "M"]
    t1, t2 = seg.iloc[3], seg.iloc[4]
    assert (t1.first_frame, t1.last_frame, t1.mid_frame) == (7, 8, 7)
    assert (t2.first_frame, t2.last_frame, t2.mid_frame) == (9, 12, 10)
    assert seg["word_position"].tolist() == ["", "initial", "final", "initial", "final", "single", "", "single"]
    assert seg["prev_phone"].tolist() == ["sil", "sil", "S", "IY", "T", "T", "AH", "sil"]
    assert seg["next_phone"].tolist() == ["S", "IY", "T", "T", "AH", "sil", "sil", "sil"]
    assert seg["n_frames"].tolist() == [2, 2, 3, 2, 4, 1, 1, 1]
