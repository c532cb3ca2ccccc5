"""The per-pair tables stacked with corpus and model columns, and the property-share figure."""

from speechneurons.comparison.jobs import compare
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    compare(snakemake.input, snakemake.output, snakemake.params)
