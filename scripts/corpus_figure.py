"""Minutes of audio per speaker, coloured by gender."""

from speechneurons.corpus.jobs import figure
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    figure(snakemake.input, snakemake.output, snakemake.params)
