"""Property-neuron counts by checkpoint, one line per layer."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import counts_figure

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    counts_figure(snakemake.input, snakemake.output, snakemake.params)
