"""Figure of pruning.tsv (see speechneurons.experiment_figures)."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]):
    from speechneurons.experiments.figures import plot_pruning
    from speechneurons.io import read_table

    plot_pruning(read_table(snakemake.input.table), snakemake.output.figure, title=snakemake.params.title)
