"""Property-neuron counts by checkpoint, one line per layer."""

from speechneurons.io import read_table
from speechneurons.logs import script_logging
from speechneurons.trajectories.figures import plot_counts

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    plot_counts(read_table(snakemake.input.table), snakemake.output.figure, snakemake.params.title)
