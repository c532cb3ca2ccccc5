"""Figures over layers: property-neuron counts and overlaps per layer, from summary.tsv."""

from speechneurons.logs import script_logging
from speechneurons.properties.jobs import layer_figures

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    layer_figures(snakemake.input, snakemake.output, snakemake.params)
