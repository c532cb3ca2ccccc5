"""The workflow as a whole: lint, config validation before any job, a smoke run of the whole
DAG on configs/ci-tiny.yaml, and reruns limited to what a config change touches."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers.layout import RESULTS as L

REPO = Path(__file__).resolve().parents[2]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run the repository's Snakefile with ``workdir`` as working directory."""
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(workdir), *args]
    env = {**os.environ, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=workdir)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


def make_workdir(path: Path, overrides: dict | None = None) -> Path:
    """A working directory with the default config.yaml and configs/ of the repository."""
    path.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "config.yaml", path / "config.yaml")
    shutil.copytree(REPO / "configs", path / "configs", dirs_exist_ok=True)
    if overrides:
        (path / "override.yaml").write_text(yaml.safe_dump(overrides))
    return path


def stage_rules(stage: str) -> set[str]:
    text = (REPO / "rules" / f"{stage}.smk").read_text()
    return set(re.findall(r"^\s*rule (\w+):", text, flags=re.M))


def planned_jobs(proc: subprocess.CompletedProcess) -> set[str]:
    """Rule names in the 'Job stats' table of a dry run."""
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return set()
    match = re.search(r"Job stats:\n(.*?)\n\n", out, flags=re.S)
    assert match, out[-3000:]
    rows = [line.split() for line in match.group(1).splitlines()[2:]]
    return {row[0] for row in rows if row and row[0] != "total"}


def test_lint_is_clean(tmp_path):
    proc = snakemake(make_workdir(tmp_path), "--lint", "--cores", "1", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Lints for" not in out, out


def test_bad_config_key_fails_before_any_job(tmp_path):
    work = make_workdir(tmp_path, {"corpus": {"sourse": "synth"}})
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "override.yaml", check=False)
    assert proc.returncode != 0
    assert "corpus.sourse" in proc.stderr + proc.stdout
    assert not (work / "results").exists()


def test_wrong_type_fails_before_any_job(tmp_path):
    work = make_workdir(tmp_path, {"seed": "zero"})
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "override.yaml", check=False)
    assert proc.returncode != 0
    assert "config key 'seed'" in proc.stderr + proc.stdout


@pytest.fixture
def tiny_run(ci_tiny_run):
    """The whole DAG on configs/ci-tiny.yaml, run once per session (tests/workflow/conftest.py)."""
    return ci_tiny_run


@pytest.mark.smoke
@pytest.mark.slow
def test_smoke_run_produces_every_target(tiny_run):
    proc = snakemake(tiny_run, "-n", "--cores", "1", "--configfile", "configs/ci-tiny.yaml")
    assert planned_jobs(proc) == set(), "a finished run must be up to date"
    assert (tiny_run / L.manifest("ci-tiny")).exists()
    assert list((tiny_run / "results" / "logs").rglob("*.log")), "every rule writes a log (under results_dir)"


def _change(tiny_run: Path, overrides: dict) -> set[str]:
    config = yaml.safe_load((tiny_run / "configs" / "ci-tiny.yaml").read_text())
    for section, values in overrides.items():
        config.setdefault(section, {}).update(values)
    (tiny_run / "changed.yaml").write_text(yaml.safe_dump(config))
    proc = snakemake(tiny_run, "-n", "--cores", "1", "--configfile", "changed.yaml")
    return planned_jobs(proc)


UPSTREAM_OF_STATISTICS = ("corpus", "align", "pitch", "model", "activations")


@pytest.mark.smoke
@pytest.mark.slow
def test_changing_sigma_reruns_only_statistics_and_after(tiny_run):
    jobs = _change(tiny_run, {"properties": {"sigma": 0.7}})
    assert jobs, "changing sigma must rerun the statistics"
    assert jobs & stage_rules("properties")
    for stage in UPSTREAM_OF_STATISTICS:
        assert not jobs & stage_rules(stage), (stage, jobs)


@pytest.mark.smoke
@pytest.mark.slow
def test_changing_pitch_binning_keeps_model_and_alignment(tiny_run):
    jobs = _change(tiny_run, {"pitch": {"n_bins": 4}})
    assert jobs
    for stage in ("corpus", "align", "model"):
        assert not jobs & stage_rules(stage), (stage, jobs)


def test_snakefmt_clean():
    proc = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "Snakefile", "rules/"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.smoke
@pytest.mark.slow
def test_changing_a_probe_setting_reruns_probes_but_never_pruning(tiny_run):
    jobs = _change(tiny_run, {"probes": {"ridge_alpha": 2.0}})
    assert {"experiments_probes_unpruned", "experiments_probes_variants"} <= jobs
    assert "experiments_prune" not in jobs
    for stage in (*UPSTREAM_OF_STATISTICS, "properties"):
        assert not jobs & stage_rules(stage), (stage, jobs)
