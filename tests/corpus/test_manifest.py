"""Tests of the corpus manifest: splits, skip-and-count, synth build + gather, determinism."""

import shutil

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from speechneurons.align.textgrid import read_alignment_textgrid
from speechneurons.corpus.figures import plot_minutes_per_speaker
from speechneurons.corpus.manifest import (
    MANIFEST_COLUMNS,
    SKIPPED_COLUMNS,
    SkipCounter,
    assign_splits,
    read_manifest,
    write_corpus_tables,
)
from speechneurons.corpus.synth import gather_synth
from speechneurons.errors import BadInputError, BadInputErrors
from speechneurons.io import read_table
from tests.helpers.corpus import make_synth_utterances


def _frame(n_spk=6, n_utt=8):
    rows = []
    for s in range(n_spk):
        for u in range(n_utt):
            rows.append({"utt_id": f"s{s}-{u:03d}", "speaker": f"s{s}", "gender": "FM"[s % 2]})
    return pd.DataFrame(rows)


def test_split_by_utterance_every_speaker_in_both():
    df = _frame()
    split = assign_splits(df, 0.25, False, seed=0)
    per = df.assign(split=split).groupby("speaker")["split"].value_counts().unstack()
    assert (per["test"] == 2).all() and (per["train"] == 6).all()  # round(0.25 * 8) = 2
    assert split.equals(assign_splits(df, 0.25, False, seed=0))
    # independent of row order
    shuffled = df.sample(frac=1, random_state=1)
    assert assign_splits(shuffled, 0.25, False, seed=0).sort_index().equals(split)
    assert not split.equals(assign_splits(df, 0.25, False, seed=1))


def test_split_single_utterance_speaker_is_train():
    df = pd.DataFrame({"utt_id": ["a"], "speaker": ["s"], "gender": ["F"]})
    assert list(assign_splits(df, 0.5, False, 0)) == ["train"]


def test_split_speaker_disjoint_keeps_both_genders_in_both_splits():
    df = _frame(n_spk=8)
    d = df.assign(split=assign_splits(df, 0.25, True, seed=0))
    assert (d.groupby("speaker")["split"].nunique() == 1).all()  # whole speakers
    both = d.groupby("gender")["split"].apply(set)
    assert all(s == {"train", "test"} for s in both)
    assert d.groupby("split")["speaker"].nunique().to_dict() == {"test": 2, "train": 6}


def test_error_mode_lists_every_problem_at_once():
    """on_bad_input: error reports all the problems a stage found in one pass, each with its
    file and fix, not one per rerun."""
    sc = SkipCounter("error")
    for name in ("a.flac", "b.flac", "c.flac"):
        assert sc.call(name, lambda n=name: (_ for _ in ()).throw(BadInputError(n, "corrupt", "Fix it."))) is None
    with pytest.raises(BadInputErrors) as e:
        sc.table()
    assert len(e.value.errors) == 3 and isinstance(e.value, BadInputError)
    assert all(f"{n}: corrupt" in str(e.value) for n in ("a.flac", "b.flac", "c.flac"))


def test_skip_counter():
    err = BadInputError("x.wav", "audio is empty", "Fix it.", utt_id="u1")
    sc = SkipCounter("error")
    sc.handle(err)
    with pytest.raises(BadInputError, match="x.wav: audio is empty"):
        sc.table()
    sc = SkipCounter("skip")
    assert sc.call(None, lambda: (_ for _ in ()).throw(err)) is None
    assert sc.table().to_dict("records") == [{"utt_id": "u1", "path": "x.wav", "reason": "audio is empty. Fix it."}]
    assert list(SkipCounter("skip").table().columns) == SKIPPED_COLUMNS


@pytest.fixture(scope="module")
def synth_parts(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    make_synth_utterances(root / "f_slt", "f_slt", n=2, seed=0)
    make_synth_utterances(root / "m_kal16", "m_kal16", n=2, seed=0)
    return root


def _gather(parts, out, speakers=("f_slt", "m_kal16"), on_bad_input="error"):
    return gather_synth(
        [parts / s / "utterances.tsv" for s in speakers],
        [parts / s / "reference" for s in speakers],
        out / "reference",
        16000,
        on_bad_input,
        0.5,
        False,
        0,
    )


def test_synth_manifest_contract(synth_parts, tmp_path):
    manifest, skipped, speakers = _gather(synth_parts, tmp_path)
    write_corpus_tables(
        manifest, skipped, speakers, tmp_path / "manifest.tsv", tmp_path / "skipped.tsv", tmp_path / "speakers.tsv"
    )
    m = read_manifest(tmp_path / "manifest.tsv")
    assert list(m.columns) == MANIFEST_COLUMNS
    assert list(m["utt_id"]) == ["f_slt-0000", "f_slt-0001", "m_kal16-0000", "m_kal16-0001"]
    assert set(m["gender"]) == {"F", "M"} and set(m["split"]) == {"train", "test"}
    assert (m["sample_rate"] == 16000).all()
    for row in m.itertuples():
        info = sf.info(row.audio_path)
        assert (info.samplerate, info.channels) == (16000, 1)
        assert row.duration_s == pytest.approx(info.frames / 16000)
        assert row.transcript == row.transcript.upper() and len(row.transcript.split()) >= 4
        dur, words, phones = read_alignment_textgrid(tmp_path / "reference" / f"{row.utt_id}.TextGrid")
        assert dur == pytest.approx(row.duration_s, abs=1e-6)
        assert " ".join(w for _, _, w in words if w).upper() == row.transcript
    assert list(read_table(tmp_path / "skipped.tsv").columns) == SKIPPED_COLUMNS
    sp = read_table(tmp_path / "speakers.tsv")
    assert list(sp["speaker"]) == ["f_slt", "m_kal16"] and list(sp["gender"]) == ["F", "M"]
    assert sp.loc[0, "f0_median_hz"] > sp.loc[1, "f0_median_hz"] + 40
    plot_minutes_per_speaker(m, tmp_path / "fig.png")
    assert (tmp_path / "fig.png").stat().st_size > 1000


def test_synth_determinism(synth_parts, tmp_path):
    """Same seed -> the same manifest rows, the same samples and the same phone timings."""
    again = make_synth_utterances(tmp_path / "again", "f_slt", n=2, seed=0)
    a = read_table(synth_parts / "f_slt" / "utterances.tsv").drop(columns="audio_path")
    b = read_table(again / "utterances.tsv").drop(columns="audio_path")
    pd.testing.assert_frame_equal(a, b)
    for uid in a["utt_id"]:
        assert (synth_parts / "f_slt" / "reference" / f"{uid}.TextGrid").read_text() == (
            again / "reference" / f"{uid}.TextGrid"
        ).read_text()
        x, _ = sf.read(synth_parts / "f_slt" / "audio" / f"{uid}.flac")
        y, _ = sf.read(again / "audio" / f"{uid}.flac")
        assert np.array_equal(x, y)
    other = make_synth_utterances(tmp_path / "other", "f_slt", n=2, seed=1)
    assert list(read_table(other / "utterances.tsv")["transcript"]) != list(a["transcript"])


@pytest.mark.parametrize("on_bad_input", ["error", "skip"])
def test_gather_bad_audio(synth_parts, tmp_path, on_bad_input):
    parts = tmp_path / "parts"
    shutil.copytree(synth_parts, parts)
    # the part's audio paths are relative to its folder: they point into the copy
    bad = parts / "f_slt" / "audio" / "f_slt-0001.flac"
    sf.write(str(bad), np.zeros((800, 2), dtype=np.float32), 16000)  # stereo
    if on_bad_input == "error":
        with pytest.raises(BadInputError, match="f_slt-0001.flac.*2 channels"):
            _gather(parts, tmp_path)
        return
    manifest, skipped, _ = _gather(parts, tmp_path, on_bad_input="skip")
    assert "f_slt-0001" not in set(manifest["utt_id"])
    assert skipped.to_dict("records")[0]["utt_id"] == "f_slt-0001"
    assert "channels" in skipped.loc[0, "reason"]
    assert not (tmp_path / "reference" / "f_slt-0001.TextGrid").exists()


def test_read_manifest_rejects_bad_contract(tmp_path):
    pd.DataFrame({"utt_id": ["a"], "speaker": ["s"]}).to_csv(tmp_path / "m.tsv", sep="\t", index=False)
    with pytest.raises(BadInputError, match="lacks column"):
        read_manifest(tmp_path / "m.tsv")


def test_corpus_config_keys():
    from speechneurons.config import ConfigError, defaults, validate_config

    cfg = defaults()["corpus"]
    assert cfg["source"] == "synth" and cfg["synth"]["utterances_per_speaker"] >= 1
    with pytest.raises(ConfigError, match="corpus.synth.utterances_per_speakr"):
        validate_config({"corpus": {"synth": {"utterances_per_speakr": 3}}})
    with pytest.raises(ConfigError, match="corpus.split.test_fraction"):
        validate_config({"corpus": {"split": {"test_fraction": 1.5}}})
