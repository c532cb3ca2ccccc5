"""Synthesize one speaker of the embedded corpus: wavs, reference TextGrids, a part table."""

from speechneurons.corpus.jobs import synth_speaker
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    synth_speaker(snakemake.input, snakemake.output, snakemake.params)
