"""Phone error rate on test against the number of re-initialised top layers."""

from speechneurons.io import read_table
from speechneurons.logs import script_logging
from speechneurons.trajectories.figures import plot_reset_top

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    p = snakemake.params
    plot_reset_top(read_table(snakemake.input.table), snakemake.output.figure, p.level, p.title)
