"""Figure of erasure.tsv (see speechneurons.experiments.figures)."""

from speechneurons.experiments.jobs import erasure_figure
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    erasure_figure(snakemake.input, snakemake.output, snakemake.params)
