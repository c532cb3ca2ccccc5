# speechneurons: neuron-level interpretability of self-supervised speech transformers.
# Table of contents of the workflow; the logic lives in src/speechneurons/, the rules in rules/.
from pathlib import Path
import sys

from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, str(Path(workflow.basedir) / "src"))
from speechneurons.config import check_config_files, validate_config
from speechneurons.layout import Layout
from speechneurons.study import check_study, write_listings

# Snakemake keeps the second of two equal YAML keys without a word: read every config file
# strictly first (a syntax error in config.yaml, or a key given twice, names the file and line).
check_config_files(["config.yaml", *workflow.overwrite_configfiles])


configfile: "config.yaml"


validate_config(config, Path(workflow.basedir) / "schemas" / "config.schema.yaml")
# What the schema cannot check (dumped layers, saved checkpoints, runs), before the DAG.
check_study(config)
# The listing of every local LibriSpeech folder, rewritten when the folder changes (an input of
# the corpus rule, so that changed audio reruns the corpus stage).
write_listings(config, Layout(config))


report: "report/workflow.rst"


# The results folder's own lock (Snakemake's is per working directory) and the start-up check
# that it can be written: taken before the first job, kept for the whole run (docs/faults.md).
from speechneurons import runlock

runlock.check_results_path(config["results_dir"])
if runlock.unlock_requested():
    print(
        runlock.unlock(config["results_dir"]) or "no run lock in results_dir",
        file=sys.stderr,
    )


onstart:
    runlock.start_run(config["results_dir"], workflow.overwrite_configfiles)


onsuccess:
    runlock.release(config["results_dir"])


onerror:
    runlock.release(config["results_dir"])


# Every stage appends the files it contributes to the default target.
ALL_TARGETS = []


include: "rules/common.smk"
include: "rules/corpus.smk"
include: "rules/align.smk"
include: "rules/pitch.smk"
include: "rules/model.smk"
include: "rules/activations.smk"
include: "rules/properties.smk"
include: "rules/experiments.smk"
include: "rules/saes.smk"
include: "rules/dissection.smk"
include: "rules/findings.smk"
include: "rules/trajectories.smk"
include: "rules/comparison.smk"


rule all:
    default_target: True
    input:
        ALL_TARGETS,
