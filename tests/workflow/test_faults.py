"""Faults of a whole run: the results folder's lock against a second run from another working
directory, the start-up check of results_dir, and byte-reproducible results (ci-tiny run into
two folders, every file compared; where a SLURM test cluster runs, its run is the second one)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.slurm import slurm_unavailable
from tests.workflow.conftest import CI_TINY_ARGS, assert_same_bytes
from tests.workflow.test_smoke import REPO, make_workdir, snakemake

SRC = str(REPO / "src")

_HOLDER = """
import sys, time
from speechneurons import runlock
runlock.acquire(sys.argv[1], ["configs/ci-tiny.yaml"])
print("held", flush=True)
time.sleep(120)
"""


def _with_results(work: Path, results: Path) -> Path:
    (work / "where.yaml").write_text(yaml.safe_dump({"results_dir": str(results)}))
    return work


def test_second_run_from_another_clone_is_refused_before_any_job(tmp_path):
    results = tmp_path / "shared-results"
    clone1 = make_workdir(tmp_path / "clone1")
    clone2 = _with_results(make_workdir(tmp_path / "clone2"), results)
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(results)],
        cwd=clone1,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        args = ("--cores", "1", "--configfile", "configs/ci-tiny.yaml", "where.yaml")
        dry = snakemake(clone2, "-n", *args, check=False)
        assert dry.returncode == 0, dry.stderr[-3000:]  # a dry run writes nothing: no lock
        proc = snakemake(clone2, *args, check=False)
        assert proc.returncode == 1
        err = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
        assert len(err) == 1, proc.stderr[-3000:]
        assert f"process {holder.pid}" in err[0] and str(clone1) in err[0]
        assert sorted(p.name for p in results.iterdir()) == [".speechneurons.lock"]  # no job ran
    finally:
        holder.kill()
        holder.wait()


def test_unwritable_results_dir_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    work = _with_results(make_workdir(tmp_path / "w"), tmp_path / "a-file" / "results")
    proc = snakemake(work, "--cores", "1", "--configfile", "configs/ci-tiny.yaml", "where.yaml", check=False)
    assert proc.returncode == 1
    err = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(err) == 1 and "cannot be created" in err[0], proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_two_runs_into_two_folders_give_the_same_bytes(request, tmp_path):
    # Where a SLURM test cluster can run, its run of ci-tiny (tests/workflow/test_slurm.py) is
    # the second run, into an absolute folder elsewhere, and it compares every file: this run
    # would repeat the whole DAG (about 4.5 minutes) for the same check.
    if slurm_unavailable() is None:
        pytest.skip("the SLURM test's run is the second run and compares every file with the session's")
    ci_tiny_run = request.getfixturevalue("ci_tiny_run")  # after the skip: it takes minutes
    # Run one is the session's ci-tiny run (results/ in its working directory, the smoke tests'
    # run); run two, from another working directory into an absolute folder elsewhere.
    results = tmp_path / "two" / "elsewhere" / "out"
    work = _with_results(make_workdir(tmp_path / "work-two"), results)
    snakemake(work, *CI_TINY_ARGS, "where.yaml")
    assert_same_bytes(ci_tiny_run / "results", results)
