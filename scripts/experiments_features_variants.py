"""Frozen features of every pruned and erased variant at the probe layers. Variants silence FFN
neurons of the unpruned model, so each utterance's front-end runs once and the transformer
once per variant; pruned models that were pretrained further run on their own."""

from speechneurons.experiments.jobs import features_variants
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    features_variants(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
