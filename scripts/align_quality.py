"""Alignment quality against the synthesizer's timings: quality.tsv and its figure."""

from speechneurons.align.jobs import quality
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    quality(snakemake.input, snakemake.output, snakemake.params)
