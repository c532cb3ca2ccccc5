"""Figure of pruning.tsv (see speechneurons.experiments.figures)."""

from speechneurons.experiments.figures import plot_pruning
from speechneurons.io import read_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    plot_pruning(read_table(snakemake.input.table), snakemake.output.figure, title=snakemake.params.title)
