"""model.download: a Hugging Face model that is not in the local cache is fetched into it by a job
of its own (model_download) before the jobs that load it; the hub is a local stand-in
(tests/helpers/hub.py, HF_ENDPOINT on 127.0.0.1), never the network."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml

from tests.helpers.hub import local_hub
from tests.helpers.layout import RESULTS as L
from tests.model.test_registry import save_tiny
from tests.workflow.test_smoke import REPO, SNAKEMAKE, make_workdir, planned_jobs

REF = "acme/tiny-hubert"
DUMP = L.dump_info("ci-tiny", "tiny-hub", "final")


def run(work, env, *args):
    cmd = [*SNAKEMAKE, "-s", str(REPO / "Snakefile"), "--directory", str(work), "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **env}, cwd=work)


@pytest.mark.slow
def test_model_download_fetches_a_model_into_the_cache_in_a_job_of_its_own(tmp_path):
    save_tiny(tmp_path / "saved")
    work = make_workdir(tmp_path / "work")
    model = {"name": "tiny-hub", "source": "huggingface", "path": REF}
    for name, download in (("download.yaml", True), ("offline.yaml", False)):
        (work / name).write_text(yaml.safe_dump({"model": {**model, "download": download}}))
    tiny = ("--configfile", "configs/ci-tiny.yaml")
    hf = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1", "MPLBACKEND": "Agg"}
    offline = {**hf, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    proc = run(work, offline, "-n", *tiny, "offline.yaml")  # model.download false: today's clear error
    assert proc.returncode != 0 and f"huggingface-cli download {REF}" in proc.stdout + proc.stderr

    with local_hub(tmp_path / "saved", REF) as hub:
        online = {**hf, "HF_ENDPOINT": hub["endpoint"], "HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}
        proc = run(work, online, "-n", DUMP, *tiny, "download.yaml")
        assert proc.returncode == 0, proc.stderr[-3000:]
        planned = planned_jobs(proc)
        assert "model_download" in planned and "activations_dump" in planned
        assert [r for r in hub["requests"] if "model.safetensors" in r] == []  # the plan reads the config only
        target = L.model_download("tiny-hub")
        proc = run(work, online, target, *tiny, "download.yaml")
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert any("model.safetensors" in r for r in hub["requests"])
    marker = json.loads((work / target).read_text())
    assert marker["ref"] == REF and {"config.json", "model.safetensors"} <= set(marker["files"])
    # the hub is gone: the model loads from the cache, offline, and nothing is fetched again
    proc = run(work, offline, "-n", DUMP, *tiny, "download.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "model_download" not in planned_jobs(proc) and "activations_dump" in planned_jobs(proc)
