"""Figures of the dissection: uninterpretable share per layer, agreement with property neurons."""

from speechneurons.dissection.jobs import figures
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    figures(snakemake.input, snakemake.output, snakemake.params)
