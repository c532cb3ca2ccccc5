"""Figure of erasure.tsv (see speechneurons.experiment_figures)."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]):
    from speechneurons.experiments.figures import plot_erasure
    from speechneurons.io import read_table

    plot_erasure(read_table(snakemake.input.table), snakemake.output.figure, title=snakemake.params.title)
