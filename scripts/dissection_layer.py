"""Dissection of one layer: each neuron's top and bottom items, top concepts, open-concept
summary and description (on the selecting split), and their agreement with the property neurons."""

from speechneurons.dissection.jobs import layer
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    layer(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
