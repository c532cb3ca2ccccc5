"""Figure of pruning.tsv (see speechneurons.experiments.figures)."""

from speechneurons.experiments.jobs import pruning_figure
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pruning_figure(snakemake.input, snakemake.output, snakemake.params)
