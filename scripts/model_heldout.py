"""Masked-prediction accuracy of every checkpoint on held-out utterances (the learning curve
on data the model never trained on), with chance and the majority-class rate."""

from speechneurons.logs import script_logging
from speechneurons.model.jobs import heldout

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    heldout(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
