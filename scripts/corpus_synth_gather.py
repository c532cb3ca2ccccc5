"""Gather the synthesized speakers: check audio, split train/test, collect reference TextGrids."""

from speechneurons.corpus.jobs import synth_gather
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    synth_gather(snakemake.input, snakemake.output, snakemake.params)
