"""Collect MFA's TextGrids into the shard layout the gather job reads."""

from speechneurons.align.jobs import mfa_collect
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    mfa_collect(snakemake.input, snakemake.output, snakemake.params)
