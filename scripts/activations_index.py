"""Index tables row-aligned with the dumped arrays: labels, pitch and speakers of each row."""

from speechneurons.activations.jobs import index
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    index(snakemake.input, snakemake.output, snakemake.params)
