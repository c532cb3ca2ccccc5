"""One forward pass of a model over the selected utterances -> per-layer float16 FFN activations."""

from speechneurons.activations.jobs import dump
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    dump(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
