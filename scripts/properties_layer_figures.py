"""Figures over layers: property-neuron counts and overlaps per layer, from summary.tsv."""

from speechneurons.io import read_table
from speechneurons.logs import script_logging
from speechneurons.properties.figures import plot_counts_per_layer, plot_overlaps_per_layer

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    summary = read_table(snakemake.input.summary)
    random_weights = read_table(snakemake.input.random_weights) if snakemake.input.random_weights else None
    title = snakemake.params.title
    plot_counts_per_layer(summary, snakemake.output.counts, title=title, random_weights=random_weights)
    plot_overlaps_per_layer(summary, snakemake.output.overlaps, title=f"overlap of property neurons, {title}")
