"""Figure: F0 distributions per gender and per speaker with the pitch-group cut points."""

from speechneurons.logs import script_logging
from speechneurons.pitch.jobs import figure

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    figure(snakemake.input, snakemake.output, snakemake.params)
