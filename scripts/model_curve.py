"""The pretraining curve: loss and masked accuracy against steps, with chance and majority."""

from speechneurons.logs import script_logging

with script_logging(snakemake.log[0]):
    from speechneurons.io import read_table
    from speechneurons.model.figures import plot_curve

    logs = [read_table(path) for path in snakemake.input.logs]
    plot_curve(logs, snakemake.output.png)
