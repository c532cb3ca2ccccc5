"""Merge the alignment shards: TextGrids, report.tsv and failed.tsv (fails loudly above the threshold)."""

from speechneurons.align.jobs import gather
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    gather(snakemake.input, snakemake.output, snakemake.params)
