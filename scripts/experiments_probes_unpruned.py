"""Probe every layer of the unpruned model; pick the best layer per task."""

from speechneurons.experiments.jobs import probes_unpruned
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    probes_unpruned(snakemake.input, snakemake.output, snakemake.params)
