"""Manifest of a local LibriSpeech directory (read in place, nothing downloaded)."""

from speechneurons.corpus.jobs import librispeech
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    librispeech(snakemake.input, snakemake.output, snakemake.params)
