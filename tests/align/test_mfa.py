"""Contract test of the MFA backend against the stand-in `mfa` executable (tests/helpers/fake_mfa)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from speechneurons.align.frame_labels import build_frame_labels
from speechneurons.align.jobs import mfa_collect, mfa_prepare
from speechneurons.align.mfa import mfa_command, prepare_corpus, run_mfa
from speechneurons.align.textgrid import read_alignment_textgrid
from speechneurons.audio import write_wav
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table

FAKE = Path(__file__).parents[1] / "helpers" / "fake_mfa"


def mfa_align(corpus, shard_dir, work_dir, mode="align", acoustic_model="english_us_arpa", num_jobs=1):
    """The MFA steps as the workflow runs them: the align_mfa_prepare job, MFA's command line
    (rule align_mfa), the align_mfa_collect job; returns the shard's report."""
    work = Path(work_dir).resolve()
    manifest = work / "manifest.tsv"
    write_table(corpus, manifest)
    mfa_prepare(SimpleNamespace(manifest=manifest), SimpleNamespace(corpus=work / "corpus"), SimpleNamespace())
    run_mfa(
        mfa_command(
            mode,
            work / "corpus",
            work / "output",
            acoustic_model=acoustic_model,
            model_out=work / "acoustic_model.zip",
            num_jobs=num_jobs,
            temp_dir=work / "tmp",
        )
    )
    inputs = SimpleNamespace(manifest=manifest, alignments=work / "output")
    mfa_collect(inputs, SimpleNamespace(shard=shard_dir), SimpleNamespace())
    return read_table(Path(shard_dir) / "report.tsv", dtype={"utt_id": str}).fillna({"reason": ""})


@pytest.fixture
def fake_mfa(monkeypatch, tmp_path):
    log = tmp_path / "mfa_calls.jsonl"
    monkeypatch.setenv("PATH", f"{FAKE}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_MFA_LOG", str(log))
    return log


@pytest.fixture
def corpus(tmp_path):
    rows = []
    texts = {"u1": "The cat sat on the mat.", "u2": "A dog ran, Zyxx!", "u3": "the unalignable cat"}
    for i, (utt, text) in enumerate(texts.items()):
        wav = tmp_path / "audio" / f"{utt}.wav"
        write_wav(wav, np.zeros(16000 + 3217 * i, dtype=np.float32), 16000)
        rows.append(
            {
                "utt_id": utt,
                "audio_path": str(wav),
                "speaker": "spkA" if i < 2 else "spkB",
                "gender": "F",
                "duration_s": (16000 + 3217 * i) / 16000,
                "sample_rate": 16000,
                "transcript": text,
                "split": "train",
            }
        )
    return pd.DataFrame(rows)


def test_command_lines():
    cmd = mfa_command("align", "C", "O", num_jobs=3, temp_dir="T")
    assert cmd[:6] == ["mfa", "align", "C", "english_us_arpa", "english_us_arpa", "O"]
    assert cmd[cmd.index("--num_jobs") + 1] == "3" and "--clean" in cmd and "--beam" in cmd
    cmd = mfa_command("train", "C", "O", model_out="M.zip")
    assert cmd[:5] == ["mfa", "train", "C", "english_us_arpa", "M.zip"]
    assert cmd[cmd.index("--output_directory") + 1] == "O"
    with pytest.raises(ValueError):
        mfa_command("adapt", "C", "O")


def test_prepare_corpus(corpus, tmp_path):
    prepare_corpus(corpus, tmp_path / "c")
    assert (tmp_path / "c" / "spkA" / "u1.lab").read_text() == "the cat sat on the mat\n"
    assert (tmp_path / "c" / "spkB" / "u3.wav").resolve() == Path(corpus.audio_path[2]).resolve()


@pytest.mark.parametrize("mode", ["align", "train"])
def test_mfa_stand_in_contract(fake_mfa, corpus, tmp_path, mode):
    shard = tmp_path / "shards" / "all"
    report = mfa_align(corpus, shard, tmp_path / "work", mode=mode, num_jobs=2)
    call = json.loads(fake_mfa.read_text().splitlines()[0])
    assert call["command"] == mode
    assert call["options"]["--num_jobs"] == "2"
    assert dict(zip(report.utt_id, report.status)) == {"u1": "aligned", "u2": "aligned", "u3": "failed"}
    assert "unalignable" not in report.reason[0] and "MFA wrote no TextGrid" in report.reason[2]
    duration, words, phones = read_alignment_textgrid(shard / "textgrids" / "u2.TextGrid")
    assert duration == pytest.approx((16000 + 3217) / 16000)
    assert [w for *_, w in words if w] == ["a", "dog", "ran", "zyxx"]
    labels = [p for *_, p in phones]
    assert labels[0] == "" and labels[-1] == "" and "AO1" in labels and "spn" in labels  # MFA's real shape
    # the one parser turns it into frame labels: stress stripped, spn and silence kept
    table, summary = build_frame_labels(corpus, shard / "textgrids", FrameGrid(), failed=["u3"])
    u2 = table[table.utt_id == "u2"]
    assert len(u2) == FrameGrid().num_frames(16000 + 3217)
    assert {"AO", "spn", "sil"} <= set(u2.phone) and not any(p[-1].isdigit() for p in u2.phone)
    assert set(summary.status) == {"labelled", "alignment_failed"}


def test_missing_mfa_is_explained(corpus, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(RuntimeError, match="use-conda"):
        mfa_align(corpus, tmp_path / "s", tmp_path / "w")


def test_stand_in_rejects_bad_arguments(fake_mfa, corpus, tmp_path):
    prepare_corpus(corpus, tmp_path / "c")
    with pytest.raises(RuntimeError, match="not a file or a pretrained model"):
        mfa_align(corpus, tmp_path / "s", tmp_path / "w", acoustic_model="english_mfa_typo")
