"""The align rules end to end through Snakemake on a hand-made two-utterance corpus: the MFA
chain (prepare -> `mfa align` shell rule -> collect -> gather -> frame labels) against the
stand-in `mfa`, and the reference aligner in shards. Only align-stage rules may run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from speechneurons.align.textgrid import write_alignment_textgrid
from speechneurons.audio import write_wav
from speechneurons.frames import FrameGrid
from tests.helpers.layout import RESULTS as L

REPO = Path(__file__).resolve().parents[2]
FAKE = REPO / "tests" / "helpers" / "fake_mfa"
ALIGN_RULES = [
    "align_shard",
    "align_mfa_prepare",
    "align_mfa",
    "align_mfa_collect",
    "align_gather",
    "align_frame_labels",
    "align_quality",
]


def make_corpus(wd: Path) -> pd.DataFrame:
    base = wd / L.corpus_dir("mini")
    rows = []
    for i, (utt, text) in enumerate({"u1": "the cat sat on the mat", "u2": "a dog ran"}.items()):
        n = 24000 + 1111 * i
        wav = base / "audio" / "spk" / f"{utt}.wav"
        write_wav(wav, np.zeros(n, dtype=np.float32), 16000)
        write_alignment_textgrid(
            base / "reference" / f"{utt}.TextGrid",
            n / 16000,
            [(0.2, 1.2, "the")],
            [(0.2, 0.5, "DH"), (0.5, 1.2, "AH0")],
        )
        rows.append(
            {
                "utt_id": utt,
                "audio_path": str(wav.relative_to(base)),  # relative to the manifest, as the corpus stage writes it
                "speaker": "spk",
                "gender": "F",
                "duration_s": n / 16000,
                "sample_rate": 16000,
                "transcript": text.upper(),
                "split": "train",
            }
        )
    manifest = pd.DataFrame(rows)
    manifest.to_csv(base / "manifest.tsv", sep="\t", index=False)
    return manifest


def run(wd: Path, *targets: str) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(wd),
        "--cores",
        "1",
        "--configfile",
        str(wd / "override.yaml"),
        "--allowed-rules",
        *ALIGN_RULES,
        "--",
        *targets,
    ]
    env = {
        **os.environ,
        "PATH": f"{FAKE}{os.pathsep}{os.environ['PATH']}",
        "FAKE_MFA_LOG": str(wd / "mfa_calls.jsonl"),
        "MPLBACKEND": "Agg",
    }
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=wd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc


@pytest.mark.slow
def test_align_rules_end_to_end(tmp_path):
    wd = tmp_path
    shutil.copy(REPO / "config.yaml", wd / "config.yaml")
    (wd / "override.yaml").write_text(
        yaml.safe_dump({"corpus": {"name": "mini"}, "align": {"aligner": "mfa", "shards": 2, "mfa": {"threads": 1}}})
    )
    make_corpus(wd)
    run(
        wd,
        L.frame_labels("mini", "mfa"),
        L.align_quality_table("mini", "mfa"),
        L.frame_labels("mini", "reference"),
    )
    call = json.loads((wd / "mfa_calls.jsonl").read_text().splitlines()[0])
    assert call["command"] == "align"
    assert call["positionals"][1:3] == ["english_us_arpa", "english_us_arpa"]
    assert call["options"]["--num_jobs"] == "1"
    assert (wd / L.mfa_corpus("mini") / "spk" / "u1.lab").read_text() == "the cat sat on the mat\n"
    grid = FrameGrid()
    for aligner in ("mfa", "reference"):
        labels = pd.read_parquet(wd / L.frame_labels("mini", aligner))
        counts = labels.groupby("utt_id").size()
        assert counts.to_dict() == {"u1": grid.num_frames(24000), "u2": grid.num_frames(25111)}
    assert sorted(p.name for p in (wd / L.align_shard("mini", "reference", 0)).parent.iterdir()) == ["0", "1"]
    quality = pd.read_csv(wd / L.align_quality_table("mini", "mfa"), sep="\t")
    assert list(quality.speaker) == ["spk", "all"] and quality.aligned_share.tolist() == [1.0, 1.0]
    assert pd.read_csv(wd / L.align_failed("mini", "mfa"), sep="\t").empty


@pytest.mark.slow
def test_precomputed_textgrids_of_a_librispeech_folder(tmp_path):
    """align.aligner: textgrids on a LibriSpeech folder whose TextGrids are the synthesizer's own
    timings (the shared MFA layout), with a missing file, a word mismatch, an unknown phone and
    a TextGrid of no utterance: the report counts them, the aligned ones get frame labels."""
    from speechneurons.align.textgrid import read_alignment_textgrid
    from speechneurons.phones import PHONES
    from tests.helpers.corpus import make_librispeech_dir
    from tests.workflow.test_smoke import make_workdir, snakemake

    work = make_workdir(tmp_path / "work")
    tg = work / "alignments"
    make_librispeech_dir(work / "LibriSpeech", {"1001": ("F", "slt")}, utterances_per_speaker=6, alignments=tg)
    chapter = tg / "1001" / "100"
    (chapter / "1001-100-0001.TextGrid").unlink()
    d, w, p = read_alignment_textgrid(chapter / "1001-100-0002.TextGrid")
    write_alignment_textgrid(chapter / "1001-100-0002.TextGrid", d, [(a, b, "bananas" if x else x) for a, b, x in w], p)
    d, w, p = read_alignment_textgrid(chapter / "1001-100-0003.TextGrid")
    write_alignment_textgrid(chapter / "1001-100-0003.TextGrid", d, w, [(a, b, "QQ" if x else x) for a, b, x in p])
    shutil.copy(chapter / "1001-100-0000.TextGrid", chapter / "1001-100-0099.TextGrid")
    cfg = {
        "corpus": {"name": "ls", "source": "librispeech", "librispeech": {"root": "LibriSpeech"}},
        "align": {"aligner": "textgrids", "textgrids": {"root": "alignments"}, "shards": 2},
    }
    (work / "tg.yaml").write_text(yaml.safe_dump(cfg))
    target = L.frame_labels("ls", "textgrids")
    proc = snakemake(work, target, "--cores", "2", "--configfile", "tg.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "Traceback" not in out
    assert "(missing)" in out and "'bananas'" in out and "unknown phone 'QQ'" in out

    (work / "skip.yaml").write_text("on_bad_input: skip\n")
    snakemake(work, target, "--cores", "2", "--configfile", "tg.yaml", "skip.yaml")
    report = pd.read_csv(work / L.align_report("ls", "textgrids"), sep="\t", dtype={"utt_id": str})
    assert report.status.value_counts().to_dict() == {"aligned": 3, "failed": 3, "extra": 1}
    labels = pd.read_parquet(work / target)
    assert sorted(labels.utt_id.unique()) == ["1001-100-0000", "1001-100-0004", "1001-100-0005"]
    assert set(labels.phone) <= set(PHONES) | {"sil", "spn"}
