"""Alignment-quality metric on inputs with a known answer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from speechneurons.align.figures import plot_quality
from speechneurons.align.quality import alignment_quality, match_sequences, utterance_quality
from speechneurons.align.textgrid import write_alignment_textgrid

REF = [
    (0.0, 0.1, ""),
    (0.1, 0.2, "DH"),
    (0.2, 0.3, "AH0"),
    (0.3, 0.45, "K"),
    (0.45, 0.6, "AE1"),
    (0.6, 0.7, "T"),
    (0.7, 1.0, ""),
]


def shifted(phones, dt):
    return [(s + dt if s > 0 else s, min(e + dt, 1.0), lab) for s, e, lab in phones]


def test_match_sequences():
    assert match_sequences(list("abc"), list("abc")) == [(0, 0), (1, 1), (2, 2)]
    assert match_sequences(list("abc"), list("axc")) == [(0, 0), (2, 2)]  # substitution
    assert match_sequences(list("abc"), list("ac")) == [(0, 0), (2, 1)]  # deletion
    assert match_sequences(list("ac"), list("abc")) == [(0, 0), (1, 2)]  # insertion
    assert match_sequences([], list("ab")) == []


def test_shifted_copy_has_known_error():
    n_ref, n_match, errs = utterance_quality(REF, shifted(REF, 0.015))
    assert (n_ref, n_match) == (5, 5)
    assert errs.size == 10
    np.testing.assert_allclose(errs, 0.015, atol=1e-9)
    _, _, errs = utterance_quality(REF, shifted(REF, 0.030))
    assert np.mean(errs <= 0.020) == 0 and np.mean(errs <= 0.050) == 1


def test_substituted_phone_is_not_matched():
    hyp = [(s, e, "IH" if lab == "AE1" else lab) for s, e, lab in REF]
    n_ref, n_match, errs = utterance_quality(REF, hyp)
    assert (n_ref, n_match, errs.size) == (5, 4, 8)


def test_table_per_speaker_and_overall(tmp_path):
    ref_dir, hyp_dir = tmp_path / "ref", tmp_path / "hyp"
    words = [(0.1, 0.3, "the"), (0.3, 0.7, "cat")]
    for utt, dt in (("a1", 0.010), ("a2", 0.040), ("b1", 0.0)):
        write_alignment_textgrid(ref_dir / f"{utt}.TextGrid", 1.0, words, REF)
        write_alignment_textgrid(hyp_dir / f"{utt}.TextGrid", 1.0, words, shifted(REF, dt))
    manifest = pd.DataFrame({"utt_id": ["a1", "a2", "b1", "b2"], "speaker": ["A", "A", "B", "B"]})
    table, errors = alignment_quality(manifest, hyp_dir, ref_dir, aligned=["a1", "a2", "b1"])
    t = table.set_index("speaker")
    assert list(t.index) == ["A", "B", "all"]
    assert t.loc["A", "within_20ms"] == pytest.approx(0.5)
    assert t.loc["A", "within_50ms"] == pytest.approx(1.0)
    assert t.loc["A", "median_abs_error_ms"] == pytest.approx(25.0)
    assert t.loc["B", "aligned_share"] == pytest.approx(0.5)
    assert t.loc["B", "median_abs_error_ms"] == pytest.approx(0.0)
    assert t.loc["all", "n_boundaries"] == 30 and t.loc["all", "aligned_share"] == pytest.approx(0.75)
    assert t.loc["all", "within_20ms"] == pytest.approx(2 / 3)
    plot_quality(table, errors, tmp_path / "q.png", "test")
    assert (tmp_path / "q.png").stat().st_size > 1000
