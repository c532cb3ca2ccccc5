"""Heat maps of P(j | c, g) for the strongest neurons of every group of one layer."""

from speechneurons.logs import script_logging
from speechneurons.properties.jobs import heatmap

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    heatmap(snakemake.input, snakemake.output, snakemake.params)
