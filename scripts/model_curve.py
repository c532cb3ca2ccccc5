"""The pretraining curve: loss and masked accuracy against steps, with chance and majority."""

from speechneurons.logs import script_logging
from speechneurons.model.jobs import curve

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    curve(snakemake.input, snakemake.output, snakemake.params)
