"""Summary of the property neurons over layers: each layer's neurons.json and counts.tsv -> summary.tsv,
with the counts of the same architecture with random weights beside them (when given)."""

from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.properties.nulls import with_random_weights
from speechneurons.properties.tables import summarize

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    inp = snakemake.input
    summary = summarize(inp.neurons, inp.counts, inp.replicates, inp.silhouette, snakemake.params.level, inp.binning)
    summary = with_random_weights(summary, read_table(inp.random_weights) if inp.random_weights else None)
    write_table(summary, snakemake.output.summary)
    log.info("\n%s", summary[["layer", "n_phone_type", "n_gender", "n_pitch", "overlap_gender_pitch"]].to_string())
