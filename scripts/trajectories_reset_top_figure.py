"""Phone error rate on test against the number of re-initialised top layers."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import reset_top_figure

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    reset_top_figure(snakemake.input, snakemake.output, snakemake.params)
