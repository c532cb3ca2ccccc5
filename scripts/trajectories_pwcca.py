"""Held-out PWCCA of every layer of one checkpoint against log-Mel frames, the front-end output
and one-hot phone and word labels."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import pwcca

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pwcca(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
