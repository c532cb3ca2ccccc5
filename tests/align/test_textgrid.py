"""Tests of speechneurons.textgrid: MFA-shaped tiers covering [0, duration]."""

import pytest

from speechneurons.align.textgrid import fill_gaps, read_alignment_textgrid, write_alignment_textgrid
from speechneurons.errors import BadInputError

WORDS = [(0.1, 0.5, "hello"), (0.6, 1.2, "world")]
PHONES = [(0.1, 0.3, "HH"), (0.3, 0.5, "AH0"), (0.6, 0.9, "W"), (0.9, 1.2, "ER1")]


def test_roundtrip_fills_gaps(tmp_path):
    p = tmp_path / "u.TextGrid"
    write_alignment_textgrid(p, 2.0, WORDS, PHONES)
    dur, words, phones = read_alignment_textgrid(p)
    assert dur == 2.0
    assert words == [(0.0, 0.1, ""), (0.1, 0.5, "hello"), (0.5, 0.6, ""), (0.6, 1.2, "world"), (1.2, 2.0, "")]
    assert [x for x in phones if x[2]] == PHONES
    for tier in (words, phones):  # contiguous cover of [0, duration]
        assert tier[0][0] == 0.0 and tier[-1][1] == 2.0
        assert all(a[1] == b[0] for a, b in zip(tier, tier[1:]))
    text = p.read_text()
    assert 'name = "words"' in text and 'name = "phones"' in text


def test_empty_labels_are_silence_and_end_clipped(tmp_path):
    p = tmp_path / "u.TextGrid"
    write_alignment_textgrid(p, 1.0, [(0.0, 0.2, ""), (0.2, 1.05, "a")], [(0.2, 1.05, "AH0")])
    dur, words, phones = read_alignment_textgrid(p)
    assert words == [(0.0, 0.2, ""), (0.2, 1.0, "a")]
    assert phones == [(0.0, 0.2, ""), (0.2, 1.0, "AH0")]


def test_overlap_rejected(tmp_path):
    with pytest.raises(ValueError, match="before the previous"):
        write_alignment_textgrid(tmp_path / "u.TextGrid", 1.0, [], [(0.0, 0.5, "A"), (0.3, 0.6, "B")])


def test_fill_gaps():
    assert fill_gaps([(0.2, 0.4, "x")], 1.0) == [(0.0, 0.2, ""), (0.2, 0.4, "x"), (0.4, 1.0, "")]


def test_missing_tier_and_missing_file(tmp_path):
    with pytest.raises(BadInputError, match="does not exist"):
        read_alignment_textgrid(tmp_path / "none.TextGrid")
    from praatio import textgrid as tgio
    from praatio.data_classes.interval_tier import IntervalTier

    tg = tgio.Textgrid(minTimestamp=0.0, maxTimestamp=1.0)
    tg.addTier(IntervalTier("words", [(0.0, 1.0, "a")], 0.0, 1.0))
    tg.save(str(tmp_path / "w.TextGrid"), format="long_textgrid", includeBlankSpaces=True)
    with pytest.raises(BadInputError, match="phones"):
        read_alignment_textgrid(tmp_path / "w.TextGrid")
