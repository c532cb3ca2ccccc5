"""Summary of the property neurons over layers: each layer's neurons.json and counts.tsv -> summary.tsv,
with the counts of the same architecture with random weights beside them (when given)."""

from speechneurons.logs import script_logging
from speechneurons.properties.jobs import summary

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    summary(snakemake.input, snakemake.output, snakemake.params)
