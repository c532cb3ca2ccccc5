"""Frozen features of every layer of the unpruned model for the probes, and the probed frames
and utterances (the same rows for every model variant)."""

from speechneurons.experiments.jobs import features_unpruned
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    features_unpruned(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
