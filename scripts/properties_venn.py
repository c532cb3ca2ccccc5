"""Venn diagram of one layer's phone-type, gender and pitch neurons (exclusive regions)."""

from speechneurons.logs import script_logging
from speechneurons.properties.jobs import venn

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    venn(snakemake.input, snakemake.output, snakemake.params)
