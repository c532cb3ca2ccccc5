"""The trajectories stage in the DAG (dry runs): its jobs for every checkpoint, one reset-top
job per n, the factor comparison when the config has several pretrained runs, and a clear error
for a run that is not a pretrained model."""

from __future__ import annotations

import pytest

from tests.workflow.test_smoke import make_workdir, snakemake, stage_rules

TINY = ("--configfile", "configs/ci-tiny.yaml", "override.yaml")
SECOND_RUN = {
    "name": "progressive",
    "pretrain": {
        "iterations": [
            {"steps": 15, "targets": "mfcc", "layer": 1, "n_clusters": 20, "init": "scratch"},
            {"steps": 15, "targets": "layer", "layer": 1, "n_clusters": 20, "init": "resume"},
        ]
    },
}


def _jobs(proc) -> dict[str, int]:
    out = proc.stdout + proc.stderr
    block = out.split("Job stats:\n", 1)[1].split("\n\n", 1)[0]
    rows = [line.split() for line in block.splitlines()[2:]]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0] != "total"}


def test_one_pwcca_job_per_checkpoint_and_one_reset_job_per_n(tmp_path):
    work = make_workdir(tmp_path, {"trajectories": {"reset_top": {"n_reset": [0, 1, 2]}}})
    jobs = _jobs(snakemake(work, "-n", "--cores", "1", *TINY))
    assert jobs["trajectories_pwcca"] == 3  # step-0, step-10 and final of ci-tiny's 30 steps
    # n = 0 is the job that also saves the CTC fine-tuned twin when ci-tiny dissects it (dissection.ctc_twin)
    reset_jobs = jobs["trajectories_reset_top"] + jobs.get("trajectories_reset_top_twin", 0)
    assert reset_jobs == 3 and jobs["trajectories_probes"] == 1
    assert "trajectories_factors" not in jobs  # one run: nothing to compare
    assert stage_rules("trajectories") - {"trajectories_factors", "trajectories_factor_figures"} <= set(jobs)


def test_several_pretrained_models_are_compared_as_runs(tmp_path):
    work = make_workdir(tmp_path, {"compare": {"models": [SECOND_RUN]}})
    proc = snakemake(work, "-n", "--cores", "1", *TINY)
    jobs = _jobs(proc)
    assert jobs["trajectories_factors"] == 1 and jobs["trajectories_factor_figures"] == 1
    assert jobs["trajectories_pwcca"] == 3 + 4  # the second run saves step-0, step-10, step-25 and final
    assert "factors/runs.tsv" in proc.stdout


@pytest.mark.parametrize("runs", [["nosuchmodel"]])
def test_a_run_must_be_a_pretrained_model(tmp_path, runs):
    work = make_workdir(tmp_path, {"trajectories": {"runs": runs}})
    proc = snakemake(work, "-n", "--cores", "1", *TINY, check=False)
    assert proc.returncode != 0 and "trajectories.runs" in proc.stdout + proc.stderr
