"""Prune the model for every (strategy, sparsity): the plan, the pruned neurons, and the
structurally smaller model (optionally pretrained further)."""

from speechneurons.experiments.jobs import prune
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    prune(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
