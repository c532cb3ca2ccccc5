"""The neuron browser: an HTML page of neuron cards (description, top concepts, top and bottom
items with playable snippets) for the most interpretable and the property neurons of each layer."""

from speechneurons.dissection.jobs import browser
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    browser(snakemake.input, snakemake.output, snakemake.params)
