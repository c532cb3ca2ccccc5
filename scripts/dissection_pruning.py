"""Concept-specific pruning: zero each concept's tagged neurons (and a matched random control)
in every dissected layer, and score the drop of the probes' own-class logits on test utterances."""

from speechneurons.dissection.jobs import pruning
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pruning(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
