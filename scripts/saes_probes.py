"""Probe scores of the model with each SAE spliced into its layer, and with property latents
and property neurons erased against their random controls (speechneurons.saes.downstream)."""

from speechneurons.logs import script_logging
from speechneurons.saes.jobs import probes

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    probes(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
