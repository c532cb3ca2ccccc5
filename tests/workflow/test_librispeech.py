"""The real-data code path: a LibriSpeech-shaped directory and a base-size model loaded from a
local folder (random weights, saved with save_pretrained), through the whole DAG."""

from __future__ import annotations

import pytest
import yaml

from tests.helpers.corpus import make_librispeech_dir
from tests.helpers.layout import RESULTS as L
from tests.workflow.test_smoke import make_workdir, planned_jobs, snakemake


@pytest.fixture(scope="module")
def librispeech_run(tmp_path_factory):
    from transformers import HubertConfig, HubertModel

    work = make_workdir(tmp_path_factory.mktemp("librispeech"))
    make_librispeech_dir(work / "LibriSpeech", utterances_per_speaker=4)
    HubertModel(HubertConfig()).save_pretrained(work / "hubert-base-random")
    override = {
        "corpus": {
            "name": "ls-shaped",
            "source": "librispeech",
            "librispeech": {"root": "LibriSpeech", "splits": ["dev-clean"]},
        },
        "model": {"name": "hubert-base-random", "source": "huggingface", "path": "hubert-base-random"},
        "align": {"aligner": "pocketsphinx", "shards": 1},
        # dump the first and last layers only: the same rules as every layer's (the smoke run
        # dumps all of its model's), 2 property and dump jobs of 3,072 neurons, not 12
        "activations": {"sample_frames": 500, "layers": [1, 12]},
        "properties": {"min_count": 1},
        "experiments": {"sparsities": [0.5], "strategies": ["norm", "protect"], "erasures": ["gender-M"]},
        "probes": {"max_frames_train": 1000, "max_frames_test": 500},
        "bootstrap": {"resamples": 50},
    }
    # the four studies' later stages at the smoke run's size: the real-data code path, not a
    # base model's hours of SAE training, dissection permutations and CTC fine-tuning on CPU
    tiny = yaml.safe_load((work / "configs" / "ci-tiny.yaml").read_text())
    override |= {section: tiny[section] for section in ("saes", "dissection", "trajectories")}
    # dissect the first and last layers (the same rules as every layer; 2 jobs per network, not
    # 12) and leave the CTC twin to the smoke run: a base model's twin is a third 12-layer dump
    override["dissection"] |= {"layers": [1, 12], "ctc_twin": False}
    # SAEs on the last layer only, one architecture: 1 job, not 48 (each trains on 3,072-wide
    # rows; the same rule as any layer's and architecture's, and the smoke run covers two layers
    # and all four architectures)
    override["saes"] |= {"layers": [12], "architectures": ["topk"]}
    # ... as wide as the layer and at one k (3 SAEs of 6,144 x 3,072 took 51 of the run's 360
    # job CPU-s; the smoke run covers the k sweep), and the reset-top fine-tuning at one learning
    # rate (2 x 2 fine-tunings of the 12-layer model took 91; the smoke run picks among two)
    override["saes"] |= {"expansion_factor": 1, "k_sweep": []}
    override["trajectories"]["reset_top"] |= {"lrs": [0.001]}
    # no random-weights control network: its dump, 12 property jobs and dissection are the same
    # rules as the trained network's (the smoke run has them) and were a third of this run
    override["properties"] |= {"random_weights_control": False}
    override["dissection"] |= {"random_weights_control": False}
    override["trajectories"] |= {"count_checkpoints": ["final"]}  # (its default counts 'random' too)
    (work / "librispeech.yaml").write_text(yaml.safe_dump(override))
    snakemake(work, "--cores", "2", "--configfile", "librispeech.yaml")
    return work


@pytest.mark.smoke
@pytest.mark.slow
def test_librispeech_with_base_model_runs_end_to_end(librispeech_run):
    corpus, model = "ls-shaped", "hubert-base-random"
    manifest = (librispeech_run / L.manifest(corpus)).read_text().splitlines()
    assert len(manifest) == 1 + 16
    layers = sorted(p.name for p in (librispeech_run / L.activations_dir(corpus, model, "final")).glob("layer-*"))
    assert layers == ["layer-1", "layer-12"]
    import numpy as np

    mid = np.load(librispeech_run / L.activation_array("mid", 1, corpus, model, "final"), mmap_mode="r")
    assert mid.shape[1] == 3072 and mid.dtype == np.float16
    assert (librispeech_run / L.properties_summary(corpus, model, "final")).exists()
    proc = snakemake(librispeech_run, "-n", "--cores", "1", "--configfile", "librispeech.yaml")
    assert planned_jobs(proc) == set()
