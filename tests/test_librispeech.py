"""Tests of the LibriSpeech source on a LibriSpeech-shaped folder built from synthesized audio."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from tests.helpers_corpus import make_librispeech_dir
from speechneurons.corpus import MANIFEST_COLUMNS, SKIPPED_COLUMNS
from speechneurons.errors import BadInputError
from speechneurons.librispeech import read_speakers_txt, scan_librispeech


@pytest.fixture(scope="module")
def ls_root(tmp_path_factory):
    return make_librispeech_dir(tmp_path_factory.mktemp("ls") / "LibriSpeech", utterances_per_speaker=3)


@pytest.fixture
def ls_copy(ls_root, tmp_path):
    return shutil.copytree(ls_root, tmp_path / "LibriSpeech")


def _scan(root, on_bad_input="error", **kw):
    return scan_librispeech(root, ["dev-clean"], on_bad_input=on_bad_input, **kw)


def test_manifest_contract(ls_root):
    m, skipped, speakers = _scan(ls_root)
    assert list(m.columns) == MANIFEST_COLUMNS
    assert len(m) == 12 and m["utt_id"].is_monotonic_increasing
    assert dict(zip(m["speaker"], m["gender"])) == {"1001": "F", "2002": "M", "3003": "M", "4004": "F"}
    assert (m["sample_rate"] == 16000).all() and (m["duration_s"] > 0.5).all()
    assert m["audio_path"].str.endswith(".flac").all() and m["audio_path"].str.startswith("/").all()
    assert m.loc[0, "transcript"] == (ls_root / "dev-clean/1001/100/1001-100.trans.txt").read_text().split("\n")[0].split(" ", 1)[1]
    assert (m.groupby("speaker")["split"].nunique() == 2).all()
    assert list(skipped.columns) == SKIPPED_COLUMNS and skipped.empty
    assert list(speakers["speaker"]) == ["1001", "2002", "3003", "4004"]
    assert list(speakers["n_utterances"]) == [3, 3, 3, 3]


def test_subsets(ls_root):
    m, _, _ = _scan(ls_root, utterances_per_speaker=2, speakers=["1001", "3003"])
    assert list(m["utt_id"]) == ["1001-100-0000", "1001-100-0001", "3003-100-0000", "3003-100-0001"]
    m, _, _ = _scan(ls_root, speaker_disjoint=True, test_fraction=0.5)
    assert (m.groupby("speaker")["split"].nunique() == 1).all()
    assert m.groupby("gender")["split"].nunique().to_dict() == {"F": 2, "M": 2}
    a, _, _ = _scan(ls_root, seed=3)
    b, _, _ = _scan(ls_root, seed=3)
    assert a.equals(b)


def test_speakers_txt(ls_root):
    info = read_speakers_txt(ls_root / "SPEAKERS.TXT")
    assert info["2002"].gender == "M" and info["1001"].subset == "dev-clean"


def test_missing_root_and_split(tmp_path, ls_root):
    with pytest.raises(BadInputError, match="does not exist") as e:
        _scan(tmp_path / "nowhere")
    assert "corpus.librispeech.root" in e.value.fix and "nowhere" in str(e.value)
    with pytest.raises(BadInputError, match="no LibriSpeech folder"):
        _scan("")
    with pytest.raises(BadInputError, match="split folder") as e:
        scan_librispeech(ls_root, ["test-other"])
    assert "dev-clean" in e.value.fix
    with pytest.raises(BadInputError, match="does not exist"):
        _scan(tmp_path / "nowhere", on_bad_input="skip")  # a wrong path is never skipped


def _corrupt(p):
    p.write_bytes(b"fLaC but not really a flac file")


def _empty(p):
    sf.write(str(p), np.zeros(0, dtype=np.float32), 16000, format="FLAC")


def _stereo(p):
    sf.write(str(p), np.zeros((1600, 2), dtype=np.float32), 16000, format="FLAC")


def _rate(p):
    sf.write(str(p), np.zeros(2205, dtype=np.float32), 22050, format="FLAC")


@pytest.mark.parametrize(
    "damage, match",
    [(_corrupt, "unreadable"), (_empty, "empty"), (_stereo, "2 channels"), (_rate, "22050 Hz")],
)
def test_bad_audio(ls_copy, damage, match):
    bad = ls_copy / "dev-clean/2002/100/2002-100-0001.flac"
    damage(bad)
    with pytest.raises(BadInputError, match=match) as e:
        _scan(ls_copy)
    assert str(bad) in str(e.value)
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip")
    assert len(m) == 11 and "2002-100-0001" not in set(m["utt_id"])
    assert list(skipped["utt_id"]) == ["2002-100-0001"] and match in skipped.loc[0, "reason"]


def test_missing_transcript_line(ls_copy):
    trans = ls_copy / "dev-clean/1001/100/1001-100.trans.txt"
    trans.write_text("\n".join(l for l in trans.read_text().splitlines() if not l.startswith("1001-100-0002")) + "\n")
    with pytest.raises(BadInputError, match="no line for 1001-100-0002") as e:
        _scan(ls_copy)
    assert "1001-100-0002.flac" in e.value.path and "trans.txt" in e.value.fix
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip")
    assert len(m) == 11 and list(skipped["utt_id"]) == ["1001-100-0002"]


def test_missing_audio_for_transcript_line(ls_copy):
    (ls_copy / "dev-clean/1001/100/1001-100-0000.flac").unlink()
    with pytest.raises(BadInputError, match="audio of transcript line 1001-100-0000"):
        _scan(ls_copy)
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip")
    assert len(m) == 11 and list(skipped["utt_id"]) == ["1001-100-0000"]


def test_unknown_speaker(ls_copy):
    spk = ls_copy / "SPEAKERS.TXT"
    spk.write_text("\n".join(l for l in spk.read_text().splitlines() if not l.startswith("3003")) + "\n")
    with pytest.raises(BadInputError, match="speaker 3003 is not in SPEAKERS.TXT") as e:
        _scan(ls_copy)
    assert "3003-100-0000.flac" in str(e.value)
    m, skipped, speakers = _scan(ls_copy, on_bad_input="skip")
    assert "3003" not in set(m["speaker"]) and len(skipped) == 3
    assert "3003" not in set(speakers["speaker"])


def test_missing_speakers_txt(ls_copy):
    (ls_copy / "SPEAKERS.TXT").unlink()
    with pytest.raises(BadInputError, match="SPEAKERS.TXT does not exist"):
        _scan(ls_copy, on_bad_input="skip")


@pytest.mark.slow
def test_workflow_librispeech_source(ls_root, tmp_path):
    """The corpus rules on corpus.source: librispeech write the same three tables."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[1]
    cfg = {
        "corpus": {"name": "ls", "source": "librispeech", "librispeech": {"root": str(ls_root), "utterances_per_speaker": 2}},
        "on_bad_input": "skip",
    }
    (tmp_path / "ls.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/ls/corpus/manifest.tsv"
    cmd = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(tmp_path),
           "--configfile", str(repo / "config.yaml"), str(tmp_path / "ls.yaml"), "--cores", "1", target,
           "results/ls/corpus/minutes_per_speaker.png"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    from speechneurons.corpus import read_manifest
    from speechneurons.io import read_table

    m = read_manifest(tmp_path / target)
    assert len(m) == 8 and list(m.columns) == MANIFEST_COLUMNS
    assert read_table(tmp_path / "results/ls/corpus/skipped.tsv").empty
    assert list(read_table(tmp_path / "results/ls/corpus/speakers.tsv", dtype={"speaker": str})["speaker"]) == ["1001", "2002", "3003", "4004"]
    # a LibriSpeech root that does not exist: the job fails with a message naming the path and the key
    cfg["corpus"]["librispeech"]["root"] = str(tmp_path / "missing")
    (tmp_path / "ls.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(cmd[:-2] + ["results/ls/corpus/skipped.tsv", "--forcerun", "corpus_librispeech"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode != 0
    assert "missing" in proc.stdout + proc.stderr and "corpus.librispeech.root" in proc.stdout + proc.stderr
