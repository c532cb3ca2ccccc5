"""Bad input met by the whole workflow (issue 17): config files Snakemake would misread, and a
local corpus that changes after a run. The per-stage cases are tested in each stage's tests;
docs/bad-input.md lists them all."""

from __future__ import annotations

import shutil

import yaml

from tests.helpers.corpus import make_librispeech_dir
from tests.helpers.layout import RESULTS as L
from tests.workflow.test_smoke import make_workdir, planned_jobs, snakemake


def test_config_file_with_a_key_twice_stops_before_any_job(tmp_path):
    """Snakemake kept the second 'corpus' mapping without a word (a LibriSpeech config ran the
    synthesized corpus instead, exit 0)."""
    work = make_workdir(tmp_path)
    (work / "twice.yaml").write_text("corpus:\n  source: librispeech\nseed: 3\ncorpus:\n  name: other\n")
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "twice.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "twice.yaml, line 4" in out and "'corpus' appears twice" in out
    assert not (work / "results").exists()
    (work / "config.yaml").write_text((work / "config.yaml").read_text() + "\nseed: [1\n")
    proc = snakemake(work, "-n", "--cores", "1", check=False)
    assert proc.returncode != 0 and "config.yaml, line" in proc.stdout + proc.stderr


def test_a_changed_corpus_reruns_the_corpus_stage(tmp_path):
    """The corpus rule had no file input: after the audio was replaced, 'Nothing to be done'; after
    a corrupt file was removed (as its error message advised), the old manifest was reused."""
    work = make_workdir(tmp_path / "work")
    root = make_librispeech_dir(work / "LibriSpeech", utterances_per_speaker=2)
    cfg = {"corpus": {"name": "ls", "source": "librispeech", "librispeech": {"root": "LibriSpeech"}}}
    (work / "ls.yaml").write_text(yaml.safe_dump(cfg))
    target = L.manifest("ls")
    args = (target, "--cores", "1", "--configfile", "ls.yaml")
    snakemake(work, *args)
    assert planned_jobs(snakemake(work, "-n", *args)) == set(), "an unchanged corpus reruns nothing"

    chapter = root / "dev-clean" / "2002" / "100"
    shutil.copy(chapter / "2002-100-0001.flac", chapter / "2002-100-0000.flac")  # new audio, same name
    assert planned_jobs(snakemake(work, "-n", *args)) == {"corpus_librispeech"}
    snakemake(work, *args)
    assert planned_jobs(snakemake(work, "-n", *args)) == set()

    bad = chapter / "2002-100-0001.flac"
    bad.write_bytes(b"fLaC but not really a flac file")
    snakemake(work, "--forcerun", "corpus_librispeech", *args, check=False)  # fails: names the file
    bad.unlink()  # the message's advice: remove the file and its transcript line
    trans = chapter / "2002-100.trans.txt"
    trans.write_text("".join(line for line in trans.open() if not line.startswith("2002-100-0001")))
    snakemake(work, *args)
    assert "2002-100-0001" not in (work / target).read_text()


def test_a_corrupt_flac_reaches_the_console_as_its_message_alone(tmp_path):
    """The console showed the message inside two Python tracebacks (the script's and the job log's,
    60 lines); now it shows file, problem and what to do, and the traceback stays in the log."""
    work = make_workdir(tmp_path / "work")
    root = make_librispeech_dir(work / "LibriSpeech", speakers={"1001": ("F", "slt")}, utterances_per_speaker=2)
    (root / "dev-clean" / "1001" / "100" / "1001-100-0001.flac").write_bytes(b"fLaC but not really a flac file")
    cfg = {"corpus": {"name": "ls", "source": "librispeech", "librispeech": {"root": "LibriSpeech"}}}
    (work / "ls.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(work, "results/ls/corpus/manifest.tsv", "--cores", "1", "--configfile", "ls.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "Traceback" not in out, out
    log = "results/logs/ls/corpus/librispeech.log"
    assert f"ERROR: bad input (the traceback is in {log})" in out
    assert "  file:    LibriSpeech/dev-clean/1001/100/1001-100-0001.flac" in out
    assert "  problem: audio file is unreadable or corrupt" in out
    assert "  to do:   Re-create or re-download the file" in out
    assert "Traceback" in (work / log).read_text()
