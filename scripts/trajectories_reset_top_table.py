"""Phone error rate on test against the number n of re-initialised top layers, with bootstrap
intervals over test utterances and the paired difference to n = 0."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import reset_top_table

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    reset_top_table(snakemake.input, snakemake.output, snakemake.params)
