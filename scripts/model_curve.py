"""The pretraining curve: loss and masked accuracy against steps, with chance and majority."""

from speechneurons.io import read_table
from speechneurons.logs import script_logging
from speechneurons.model.figures import plot_curve

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    plot_curve([read_table(path) for path in snakemake.input.logs], snakemake.output.png)
