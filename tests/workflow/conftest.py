"""Fixtures shared by the workflow tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.helpers.session import built_once
from tests.workflow.test_smoke import make_workdir, snakemake

# The arguments of the shared ci-tiny run (its results_dir is the working directory's results/).
CI_TINY_ARGS = ("--cores", "2", "--configfile", "configs/ci-tiny.yaml")


@pytest.fixture(scope="session")
def ci_tiny_run(tmp_path_factory):
    """The whole DAG on configs/ci-tiny.yaml, once per test session: the smoke tests check it and
    rerun dry, the reproducibility test compares its results with a second run into another
    folder, and the SLURM test compares the SLURM run's outputs with it. Nothing writes into it
    after the run (dry runs and config copies beside results/ only). Under pytest-xdist, the
    first worker that asks runs it and the others wait for it (tests/helpers/session.py)."""
    return built_once(tmp_path_factory, "ci-tiny", lambda folder: snakemake(make_workdir(folder), *CI_TINY_ARGS))


# Files that may differ between two runs of the same config, with the reason. Ideally empty.
ALLOWED_TO_DIFFER: dict[str, str] = {}
EXCLUDED_FOLDERS = ("logs", "benchmarks")  # timings and log lines are meant to differ


def digests(results: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file of a results folder but logs, benchmarks and the lock."""
    out = {}
    for path in sorted(results.rglob("*")):
        rel = path.relative_to(results).as_posix()
        if path.is_dir() or rel.split("/")[0] in EXCLUDED_FOLDERS or path.name == ".speechneurons.lock":
            continue
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def assert_same_bytes(one: Path, two: Path) -> None:
    """Two results folders of the same config hold the same files with the same bytes (but
    ALLOWED_TO_DIFFER)."""
    a, b = digests(one), digests(two)
    assert sorted(a) == sorted(b), sorted(set(a) ^ set(b))
    differ = sorted(f for f in a if a[f] != b[f])
    unexplained = [f for f in differ if f not in ALLOWED_TO_DIFFER]
    print(f"{len(a)} files compared, {len(a) - len(differ)} identical; differ: {differ}")
    assert not unexplained, unexplained
