"""Probe every pruned and erased variant at the probe layers (last / best of the unpruned model)."""

from speechneurons.experiments.jobs import probes_variants
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    probes_variants(snakemake.input, snakemake.output, snakemake.params)
