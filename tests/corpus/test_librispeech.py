"""Tests of the LibriSpeech source on a LibriSpeech-shaped folder built from synthesized audio."""

import shutil

import numpy as np
import pytest
import soundfile as sf

from speechneurons.corpus.librispeech import read_speakers_txt, scan_librispeech
from speechneurons.corpus.manifest import MANIFEST_COLUMNS, SKIPPED_COLUMNS
from speechneurons.errors import BadInputError, BadInputErrors
from tests.helpers.corpus import make_librispeech_dir


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
    assert (
        m.loc[0, "transcript"]
        == (ls_root / "dev-clean/1001/100/1001-100.trans.txt").read_text().split("\n")[0].split(" ", 1)[1]
    )
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

    repo = Path(__file__).resolve().parents[2]
    cfg = {
        "corpus": {
            "name": "ls",
            "source": "librispeech",
            "librispeech": {"root": str(ls_root), "utterances_per_speaker": 2},
        },
        "on_bad_input": "skip",
    }
    (tmp_path / "ls.yaml").write_text(yaml.safe_dump(cfg))
    target = "results/ls/corpus/manifest.tsv"
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(repo / "Snakefile"),
        "--directory",
        str(tmp_path),
        "--configfile",
        str(repo / "config.yaml"),
        str(tmp_path / "ls.yaml"),
        "--cores",
        "1",
        target,
        "results/ls/corpus/minutes_per_speaker.png",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    from speechneurons.corpus.manifest import read_manifest
    from speechneurons.io import read_table

    m = read_manifest(tmp_path / target)
    assert len(m) == 8 and list(m.columns) == MANIFEST_COLUMNS
    assert read_table(tmp_path / "results/ls/corpus/skipped.tsv").empty
    assert list(read_table(tmp_path / "results/ls/corpus/speakers.tsv", dtype={"speaker": str})["speaker"]) == [
        "1001",
        "2002",
        "3003",
        "4004",
    ]
    # a LibriSpeech root that does not exist: the job fails with a message naming the path and the key
    cfg["corpus"]["librispeech"]["root"] = str(tmp_path / "missing")
    (tmp_path / "ls.yaml").write_text(yaml.safe_dump(cfg))
    proc = subprocess.run(
        cmd[:-2] + ["results/ls/corpus/skipped.tsv", "--forcerun", "corpus_librispeech"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode != 0
    assert "missing" in proc.stdout + proc.stderr and "corpus.librispeech.root" in proc.stdout + proc.stderr


# --------------------------------------------------------------------------- transcripts (issue 17, item 2)


def _trans(root, speaker="1001"):
    return root / f"dev-clean/{speaker}/100/{speaker}-100.trans.txt"


def test_empty_transcript_line_is_bad_input_not_the_word_nan(ls_copy):
    """A line with the id only was read as a missing value and aligned as the word 'nan'."""
    trans = _trans(ls_copy)
    lines = trans.read_text().splitlines()
    lines[1] = "1001-100-0001"
    trans.write_text("\n".join(lines) + "\n")
    with pytest.raises(BadInputError, match="line 2 gives utterance 1001-100-0001 no transcript") as e:
        _scan(ls_copy)
    assert str(trans) in str(e.value)
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip")
    assert "1001-100-0001" not in set(m["utt_id"]) and list(skipped["utt_id"]) == ["1001-100-0001"]
    assert not m["transcript"].str.lower().isin(["nan", ""]).any()


def test_same_id_twice_in_a_transcript_file(ls_copy):
    """The same id on two lines of a .trans.txt silently kept the last line."""
    trans = _trans(ls_copy)
    lines = trans.read_text().splitlines()
    trans.write_text("\n".join([*lines, "1001-100-0000 SOME OTHER WORDS"]) + "\n")
    with pytest.raises(BadInputError, match=r"1001-100-0000 has two transcript lines \(lines 1 and 4\)") as e:
        _scan(ls_copy)
    assert str(trans) in str(e.value) and "delete the other" in str(e.value)
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip")
    assert list(skipped["utt_id"]) == ["1001-100-0000"] and len(m) == 11


def test_same_utterance_in_two_split_folders_names_both_files(ls_copy):
    """A duplicate across splits failed later with 'manifest: duplicate utt_id ... Re-create it
    with the corpus stage', which named no file and gave the wrong fix."""
    shutil.copytree(ls_copy / "dev-clean" / "2002", ls_copy / "test-clean" / "2002")
    with pytest.raises(BadInputError) as e:
        scan_librispeech(ls_copy, ["dev-clean", "test-clean"])
    msg = str(e.value)
    assert "is in two split folders" in msg and "Re-create" not in msg
    assert "dev-clean/2002/100/2002-100-0000.flac" in msg and "test-clean/2002/100/2002-100-0000.flac" in msg
    assert "corpus.librispeech.splits" in msg and "keep one copy" in msg
    m, skipped, _ = scan_librispeech(ls_copy, ["dev-clean", "test-clean"], on_bad_input="skip")
    assert m["utt_id"].is_unique and len(m) == 12 and len(skipped) == 3
    assert m.loc[m.utt_id == "2002-100-0000", "audio_path"].iloc[0].count("dev-clean") == 1


def test_split_list_empty_or_repeated(ls_root):
    with pytest.raises(BadInputError, match="no split folder is configured"):
        scan_librispeech(ls_root, [])
    with pytest.raises(BadInputError, match="dev-clean listed more than once"):
        scan_librispeech(ls_root, ["dev-clean", "dev-clean"])


# --------------------------------------------------------------------------- early checks (issue 17, item 4)


def _corrupt_data(p):
    """Damage the audio frames of a FLAC but keep its header (sf.info still reads it)."""
    data = bytearray(p.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 400] = np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8).tobytes()
    p.write_bytes(bytes(data))
    assert sf.info(str(p)).frames > 0


def test_corrupt_flac_data_with_an_intact_header_is_caught_by_the_corpus_stage(ls_copy):
    """It passed the corpus check (header only) and failed later in pitch and alignment."""
    bad = ls_copy / "dev-clean/2002/100/2002-100-0001.flac"
    _corrupt_data(bad)
    with pytest.raises(BadInputError, match="unreadable or corrupt") as e:
        _scan(ls_copy)
    assert str(bad) in str(e.value)
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip")
    assert list(skipped["utt_id"]) == ["2002-100-0001"] and len(m) == 11


def test_audio_shorter_than_one_frame_is_caught_by_the_corpus_stage(ls_copy):
    """It failed 17-20 s later in the dump or the probes."""
    bad = ls_copy / "dev-clean/3003/100/3003-100-0002.flac"
    sf.write(str(bad), np.full(300, 0.1, dtype=np.float32), 16000, format="FLAC")
    with pytest.raises(BadInputError, match="shorter than one model frame") as e:
        _scan(ls_copy, min_samples=400)
    assert str(bad) in str(e.value) and "300 samples" in str(e.value)
    m, skipped, _ = _scan(ls_copy, on_bad_input="skip", min_samples=400)
    assert list(skipped["utt_id"]) == ["3003-100-0002"] and len(m) == 11


def test_error_mode_lists_every_problem_of_the_corpus_at_once(ls_copy):
    _corrupt_data(ls_copy / "dev-clean/2002/100/2002-100-0001.flac")
    sf.write(str(ls_copy / "dev-clean/3003/100/3003-100-0002.flac"), np.zeros(100, np.float32), 16000, format="FLAC")
    trans = _trans(ls_copy, "4004")
    trans.write_text(trans.read_text().replace("4004-100-0000 ", "4004-100-0000\n#", 1))
    with pytest.raises(BadInputErrors) as e:
        _scan(ls_copy, min_samples=400)
    assert len(e.value.errors) >= 3
    msg = str(e.value)
    for uid in ("2002-100-0001", "3003-100-0002", "4004-100-0000"):
        assert uid in msg, msg


def test_no_utterance_at_all_is_a_clear_error(ls_root):
    """A speaker filter that matches nobody wrote an empty manifest, and the run failed later
    with 'no voiced frames at all'."""
    for mode in ("error", "skip"):
        with pytest.raises(BadInputError, match="9999 (are|is) in (none of )?the split folders dev-clean") as e:
            _scan(ls_root, on_bad_input=mode, speakers=["9999"])
        assert "1001, 2002" in e.value.fix  # the speakers that are there
    with pytest.raises(BadInputError, match="speaker.s. 9999 are in none of the split folders"):
        _scan(ls_root, speakers=["1001", "9999"])
    m, _, _ = _scan(ls_root, on_bad_input="skip", speakers=["1001", "9999"])
    assert set(m["speaker"]) == {"1001"}


# --------------------------------------------------------------------------- listing (issue 17, item 3)


def test_listing_changes_with_the_corpus(ls_copy):
    from speechneurons.corpus.librispeech import librispeech_listing

    before = librispeech_listing(ls_copy, ["dev-clean"])
    assert before == librispeech_listing(ls_copy, ["dev-clean"])
    assert "dev-clean/1001/100/1001-100-0000.flac" in before and "SPEAKERS.TXT" in before
    only = librispeech_listing(ls_copy, ["dev-clean"], ["1001"])
    assert "2002-100" not in only and "1001-100-0000.flac" in only
    flac = ls_copy / "dev-clean/2002/100/2002-100-0000.flac"
    flac.write_bytes((ls_copy / "dev-clean/2002/100/2002-100-0001.flac").read_bytes())
    replaced = librispeech_listing(ls_copy, ["dev-clean"])
    assert replaced != before
    assert librispeech_listing(ls_copy, ["dev-clean"], ["1001"]) == only  # another speaker's change
    flac.unlink()
    assert "2002-100-0000.flac" not in librispeech_listing(ls_copy, ["dev-clean"])
