"""Pitch groups: cut the F0 of voiced frames into equal-count bins -> pitch_frames.parquet, pitch_bins.json."""

from speechneurons.logs import script_logging
from speechneurons.pitch.jobs import groups

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    groups(snakemake.input, snakemake.output, snakemake.params)
