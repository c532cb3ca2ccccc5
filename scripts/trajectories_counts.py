"""Property-neuron counts of every count checkpoint, per layer, by pretraining step."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import counts

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    counts(snakemake.input, snakemake.output, snakemake.params)
