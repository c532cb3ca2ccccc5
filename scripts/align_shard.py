"""Align one shard of the manifest (pocketsphinx, reference or precomputed-TextGrids backend)."""

from speechneurons.align.jobs import shard
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    shard(snakemake.input, snakemake.output, snakemake.params)
