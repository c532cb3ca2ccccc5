"""Several models and corpora in one run: the DAG runs what does not depend on the model once
per corpus, every model stage per model, and the comparison once; a listed model that is not
available offline stops the run before any job, naming it."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.helpers.corpus import make_librispeech_dir
from tests.workflow.test_smoke import make_workdir, snakemake


def job_counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> number of jobs, from the 'Job stats' table of a dry run."""
    match = re.search(r"Job stats:\n(.*?)\n\n", proc.stdout + proc.stderr, flags=re.S)
    assert match, (proc.stdout + proc.stderr)[-3000:]
    rows = [line.split() for line in match.group(1).splitlines()[2:]]
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0] != "total"}


def test_two_pretrained_models_share_corpus_alignment_and_pitch(tmp_path):
    work = make_workdir(tmp_path, {"compare": {"models": [{"name": "tinywave", "pretrain": {"frontend": "waveform"}}]}})
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "configs/ci-tiny.yaml", "override.yaml")
    jobs = job_counts(proc)
    for rule in ("corpus_synth_gather", "align_gather", "align_frame_labels", "pitch_f0", "pitch_groups", "comparison"):
        assert jobs[rule] == 1, (rule, jobs)
    assert jobs["align_shard"] == 2  # ci-tiny's shards, once
    assert jobs["model_pretrain"] == 2 and jobs["findings"] == 2 and jobs["experiments_prune"] == 2
    # 2 models x 2 layers x (final + random weights + the CTC fine-tuned twin ci-tiny dissects)
    assert jobs["properties_layer"] == 12


def test_librispeech_shaped_folder_with_three_local_base_models(tmp_path):
    from transformers import HubertConfig, Wav2Vec2Config, WavLMConfig

    work = make_workdir(tmp_path)
    make_librispeech_dir(work / "LibriSpeech", utterances_per_speaker=2)
    for name, cfg in (("hubert", HubertConfig()), ("wav2vec2", Wav2Vec2Config()), ("wavlm", WavLMConfig())):
        cfg.save_pretrained(work / name)  # the DAG needs only the config (layer count), not weights
    config = yaml.safe_load((work / "configs" / "librispeech-three-models.yaml").read_text())
    config["corpus"]["librispeech"]["root"] = "LibriSpeech"
    config["align"] = {"aligner": "pocketsphinx", "shards": 2}
    config["model"]["path"] = "hubert"
    config["compare"]["models"][0]["path"] = "wav2vec2"
    config["compare"]["models"][1]["path"] = "wavlm"
    (work / "three.yaml").write_text(yaml.safe_dump(config))
    jobs = job_counts(snakemake(work, "-n", "--cores", "1", "--configfile", "three.yaml"))
    assert jobs["align_shard"] == 2 and jobs["pitch_f0"] == 1 and jobs["comparison"] == 1
    assert "model_pretrain" not in jobs
    assert jobs["properties_layer"] == 3 * 12 * 2  # three 12-layer models, final and random weights
    assert jobs["findings"] == 3


def test_a_listed_model_missing_offline_fails_before_any_job(tmp_path):
    work = make_workdir(
        tmp_path,
        {"compare": {"models": [{"name": "wavlm-base", "source": "huggingface", "path": "no-such-org/no-such-model"}]}},
    )
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "override.yaml", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "no-such-org/no-such-model" in out and "nothing is downloaded" in out and "huggingface-cli download" in out
    assert not (work / "results").exists()


def test_duplicate_model_names_are_a_config_error(tmp_path):
    work = make_workdir(tmp_path, {"compare": {"models": [{"name": "tinyhubert"}]}})
    proc = snakemake(work, "-n", "--cores", "1", "--configfile", "override.yaml", check=False)
    assert proc.returncode != 0 and "model 'tinyhubert' is used twice" in proc.stdout + proc.stderr
