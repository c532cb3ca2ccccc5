"""Faults a new user meets: checked intermediates and make repair, stale temporaries after
kill -9, the mode of outputs, the results folder's run lock and its start-up check."""

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from speechneurons import runlock
from speechneurons.io import (
    DamagedFileError,
    atomic_dir,
    atomic_path,
    load_array,
    load_npz,
    read_table,
    sidecar,
    verify,
    write_npz,
    write_table,
)
from speechneurons.repair import find_damaged, owning_output, repair, results_dir_of

SRC = str(Path(__file__).resolve().parents[2] / "src")


# ----------------------------------------------------------------------------- checksums
def _write_npy(path, arr):
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr)


def test_arrays_and_tables_carry_a_sidecar_and_are_verified(tmp_path):
    arr = np.arange(12, dtype=np.float16).reshape(3, 4)
    _write_npy(tmp_path / "mid.npy", arr)
    write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.parquet")
    write_npz(tmp_path / "P.npz", {"x": arr})
    for name in ("mid.npy", "t.parquet", "P.npz"):
        assert sidecar(tmp_path / name).read_text().startswith("size=")
        assert verify(tmp_path / name)
    np.testing.assert_array_equal(load_array(tmp_path / "mid.npy", mmap_mode="r"), arr)
    with load_npz(tmp_path / "P.npz") as npz:
        np.testing.assert_array_equal(npz["x"], arr)
    # a file without a sidecar (the user's) is read unchecked
    np.save(tmp_path / "plain.npy", arr)
    assert not verify(tmp_path / "plain.npy")
    # text and JSON carry none
    with atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("x")
    assert not sidecar(tmp_path / "a.txt").exists()


def test_truncated_or_changed_file_stops_with_file_and_command(tmp_path):
    _write_npy(tmp_path / "mid.npy", np.ones((100, 8), dtype=np.float16))
    path = tmp_path / "mid.npy"
    mtime = path.stat().st_mtime_ns
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    os.utime(path, ns=(mtime, mtime))  # damage with the old mtime kept
    with pytest.raises(DamagedFileError) as err:
        load_array(path, mmap_mode="r")
    assert str(path) in str(err.value) and "truncated" in str(err.value) and "make repair" in str(err.value)
    write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t.tsv")
    (tmp_path / "t.tsv").write_text("a\n1\n3\n")  # same size, other bytes
    with pytest.raises(DamagedFileError, match="checksum differs"):
        read_table(tmp_path / "t.tsv")


def test_rebuild_hint_names_the_running_config(tmp_path, monkeypatch):
    results = tmp_path / "results"
    monkeypatch.chdir(tmp_path)
    runlock.acquire(results, ["configs/ci-tiny.yaml"])
    try:
        _write_npy(results / "c" / "mid.npy", np.ones(4))
        (results / "c" / "mid.npy").write_bytes(b"x")
        with pytest.raises(DamagedFileError) as err:
            load_array(results / "c" / "mid.npy")
        assert f"cd {tmp_path} && make repair CONFIG={tmp_path}/configs/ci-tiny.yaml" in str(err.value)
    finally:
        runlock.release(results)


def test_repair_removes_damaged_outputs_only(tmp_path, monkeypatch):
    results = tmp_path / "results"
    _write_npy(results / "a" / "good.npy", np.ones(10))
    _write_npy(results / "a" / "bad.npy", np.ones(10))
    with atomic_dir(results / "shard") as d:
        write_table(pd.DataFrame({"x": [1]}), d / "report.tsv")
    (results / "a" / "bad.npy").write_bytes(b"damaged")
    (results / "shard" / "report.tsv").write_text("x\n2\n")
    _write_npy(results / "a" / "gone.npy", np.ones(3))
    (results / "a" / "gone.npy").unlink()  # removed by Snakemake: not damage
    damaged = [p for p, _ in find_damaged(results)]
    assert damaged == [results / "a" / "bad.npy", results / "shard" / "report.tsv"]
    # the shard folder is a directory() output: Snakemake has a record of it, not of its files
    monkeypatch.chdir(tmp_path)
    import base64

    meta = tmp_path / ".snakemake" / "metadata"
    meta.mkdir(parents=True)
    (meta / base64.urlsafe_b64encode(b"results/shard").decode()).write_text("{}")
    assert owning_output(results / "shard" / "report.tsv", results) == results / "shard"
    removed = repair(results)
    assert removed == [results / "a" / "bad.npy", results / "shard"]
    assert not (results / "a" / "bad.npy").exists() and not sidecar(results / "a" / "bad.npy").exists()
    assert not (results / "shard").exists() and (results / "a" / "good.npy").exists()
    assert find_damaged(results) == []


def test_results_dir_of_config_files(tmp_path):
    (tmp_path / "a.yaml").write_text("results_dir: out\n")
    (tmp_path / "b.yaml").write_text("corpus: {name: x}\n")
    assert results_dir_of([tmp_path / "b.yaml"]) == "results"
    assert results_dir_of([tmp_path / "a.yaml", tmp_path / "b.yaml"]) == "out"


# ----------------------------------------------------------------------------- temporaries, mode
def test_writers_remove_their_stale_temporaries(tmp_path):
    (tmp_path / ".out.npy.x1.tmp.npy").write_bytes(b"half")
    (tmp_path / ".checkpoints.x2.tmp" / "step-0").mkdir(parents=True)
    (tmp_path / ".other.npy.x3.tmp.npy").write_bytes(b"another output's")
    _write_npy(tmp_path / "out.npy", np.ones(2))
    with atomic_dir(tmp_path / "checkpoints") as d:
        (d / "step-0").mkdir()
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [".other.npy.x3.tmp.npy", "checkpoints", "out.npy", "out.npy.sum"]


_KILLED_WRITER = """
import os, sys, time
import numpy as np
from speechneurons.io import atomic_dir, atomic_path
out, folder, table = sys.argv[1:]
with atomic_dir(os.path.join(out, folder)) as d:
    os.makedirs(os.path.join(d, "step-0"))
    with atomic_path(os.path.join(out, table)) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ones(1000))
        print("writing", flush=True)
        time.sleep(60)
"""


# The folders and files the corpus, pretraining, SAE and pruning jobs write (all through
# atomic_dir / atomic_path): killed mid-write, then written again.
KILLED_JOBS = {
    "corpus": ("audio", "utterances.tsv"),
    "pretraining": ("checkpoints", "train_log.tsv"),
    "sae": ("sae-k8", "evaluation.npz"),
    "pruning": ("model-0", "plan.tsv"),
}


@pytest.mark.parametrize("job", sorted(KILLED_JOBS))
def test_kill_9_mid_write_then_rerun_leaves_no_temporary(tmp_path, job):
    folder, table = KILLED_JOBS[job]
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path), folder, table],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert any(p.name.startswith(".") for p in tmp_path.iterdir())  # the kill left temporaries
    with atomic_dir(tmp_path / folder) as d:  # the rerun
        (d / "step-0").mkdir()
    with atomic_path(tmp_path / table) as tmp, open(tmp, "wb") as fh:
        np.save(fh, np.ones(1000))
    left = [str(p) for p in tmp_path.rglob("*") if ".tmp" in p.name]
    assert left == []


def test_outputs_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.tsv")
        with atomic_dir(tmp_path / "d") as d:
            (d / "f").write_text("x")
            (d / "private").write_text("x")
            (d / "private").chmod(0o600)  # as safetensors writes its files
            (d / "sub").mkdir(mode=0o700)
        os.umask(0o027)
        with atomic_path(tmp_path / "g.txt") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(old)
    assert (tmp_path / "t.tsv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "t.tsv.sum").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "d" / "private").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "d" / "sub").stat().st_mode & 0o777 == 0o755
    assert (tmp_path / "g.txt").stat().st_mode & 0o777 == 0o640


# ----------------------------------------------------------------------------- run lock
_HOLDER = """
import sys, time
from speechneurons import runlock
runlock.acquire(sys.argv[1], ["configs/x.yaml"])
print("held", flush=True)
time.sleep(60)
"""


def _holder(results, cwd):
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(results)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_second_run_from_another_working_directory_is_refused(tmp_path):
    results = tmp_path / "shared" / "results"
    (tmp_path / "clone1").mkdir()
    proc = _holder(results, tmp_path / "clone1")
    try:
        with pytest.raises(runlock.RunLockedError) as err:
            runlock.acquire(results)
        msg = str(err.value)
        assert f"process {proc.pid}" in msg and socket.gethostname() in msg and str(tmp_path / "clone1") in msg
        assert runlock.unlock(results).startswith("not removed")  # --unlock leaves a live run's lock
    finally:
        proc.kill()
        proc.wait()
    # the holder died (kill -9): its lock does not block
    assert runlock.acquire(results)
    rec = json.loads((results / runlock.LOCK_NAME).read_text())
    assert rec["pid"] == os.getpid()
    runlock.release(results)
    assert not (results / runlock.LOCK_NAME).exists()


def test_unlock_clears_a_stale_lock(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / runlock.LOCK_NAME).write_text(json.dumps({"pid": 999999, "host": "elsewhere", "cwd": "/x"}))
    assert runlock.unlock(results).startswith("removed")
    assert runlock.unlock(results) is None


def test_start_run_refuses_an_unwritable_results_dir(tmp_path, capsys, monkeypatch):
    results = tmp_path / "results"
    (results / "c").mkdir(parents=True)
    results.chmod(0o555)
    if os.geteuid() == 0:  # root writes anywhere: pretend it cannot
        monkeypatch.setattr(os, "access", lambda p, mode: False)
    try:
        with pytest.raises(SystemExit) as exc:
            runlock.start_run(results)
        assert exc.value.code == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "cannot be written" in err[0] and str(results) in err[0]
    finally:
        results.chmod(0o755)


def test_check_writable_names_a_read_only_subfolder(tmp_path, monkeypatch):
    results = tmp_path / "results"
    (results / "c").mkdir(parents=True)
    monkeypatch.setattr(os, "access", lambda p, mode: Path(p).name != "c")
    with pytest.raises(runlock.NotWritableError, match="cannot be written"):
        runlock.check_writable(results)


def test_snakefile_hooks(tmp_path):
    """The hooks as the Snakefile wires them: a dry run takes no lock."""
    snakefile = Path(__file__).resolve().parents[2] / "Snakefile"
    text = snakefile.read_text()
    assert "onstart:" in text and "runlock.start_run" in text and "runlock.release" in text
    assert textwrap.dedent("runlock.unlock_requested()") in text
    assert runlock.unlock_requested(["snakemake", "--unlock"]) and not runlock.unlock_requested(["snakemake", "-n"])


# ----------------------------------------------------------------------------- the same bytes
def test_ogg_snippets_have_a_fixed_serial():
    import io

    import soundfile as sf

    from speechneurons.dissection.browser import encode_snippet

    x = (0.3 * np.sin(np.arange(8000) / 10)).astype(np.float32)
    a, b = (encode_snippet(x, 16000, 16000, "opus", 0.5) for _ in range(2))
    assert a == b  # libsndfile draws a random serial: fixed (and the page checksums redone)
    y, sr = sf.read(io.BytesIO(a))
    assert sr == 16000 and len(y) == len(x)


def test_npz_bytes_do_not_depend_on_the_time(tmp_path, monkeypatch):
    import time

    write_npz(tmp_path / "a.npz", {"x": np.arange(3)})
    monkeypatch.setattr(time, "localtime", lambda *a: time.struct_time((2030, 5, 5, 5, 5, 5, 0, 1, 0)))
    write_npz(tmp_path / "b.npz", {"x": np.arange(3)})
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()


def test_manifest_audio_paths_are_relative_to_its_folder(tmp_path):
    from speechneurons.corpus.manifest import read_manifest, write_corpus_tables

    corpus = tmp_path / "results" / "c" / "corpus"
    (corpus / "audio").mkdir(parents=True)
    manifest = pd.DataFrame(
        {
            "utt_id": ["u1", "u2"],
            "audio_path": [str(corpus / "audio" / "u1.wav"), "/data/LibriSpeech/u2.flac"],
            "speaker": ["s", "s"],
            "gender": ["F", "F"],
            "duration_s": [1.0, 1.0],
            "sample_rate": [16000, 16000],
            "transcript": ["A", "B"],
            "split": ["train", "test"],
        }
    )
    skipped = pd.DataFrame(columns=["utt_id", "path", "reason"])
    write_corpus_tables(manifest, skipped, pd.DataFrame({"speaker": ["s"]}), corpus / "manifest.tsv",
                        corpus / "skipped.tsv", corpus / "speakers.tsv")  # fmt: skip
    stored = read_table(corpus / "manifest.tsv")["audio_path"].tolist()
    assert stored == ["audio/u1.wav", "/data/LibriSpeech/u2.flac"]
    moved = tmp_path / "moved"
    (tmp_path / "results").rename(moved)  # the results folder renamed: paths still resolve
    back = read_manifest(moved / "c" / "corpus" / "manifest.tsv")["audio_path"].tolist()
    assert back == [str(moved / "c" / "corpus" / "audio" / "u1.wav"), "/data/LibriSpeech/u2.flac"]
