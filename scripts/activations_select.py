"""Frames to dump: every speech middle frame and a seeded sample of all frames -> selection.parquet."""

from speechneurons.activations.jobs import select
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    select(snakemake.input, snakemake.output, snakemake.params)
