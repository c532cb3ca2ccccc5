"""Fixtures shared by the workflow tests."""

from __future__ import annotations

import pytest

from tests.workflow.test_smoke import make_workdir, snakemake

# The arguments of the shared ci-tiny run (its results_dir is the working directory's results/).
CI_TINY_ARGS = ("--cores", "2", "--configfile", "configs/ci-tiny.yaml")


@pytest.fixture(scope="session")
def ci_tiny_run(tmp_path_factory):
    """The whole DAG on configs/ci-tiny.yaml, once per test session: the smoke tests check it and
    rerun dry, the reproducibility test compares its results with a second run into another
    folder, and the SLURM test compares the SLURM run's outputs with it. Nothing writes into it
    after the run (dry runs and config copies beside results/ only)."""
    work = make_workdir(tmp_path_factory.mktemp("ci-tiny"))
    snakemake(work, *CI_TINY_ARGS)
    return work
