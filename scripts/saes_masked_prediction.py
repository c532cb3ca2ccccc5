"""Masked-prediction accuracy and loss on held-out utterances of the pretrained model with its
head, as it is and with each SAE spliced into its layer (speechneurons.saes.downstream)."""

from speechneurons.logs import script_logging
from speechneurons.saes.jobs import masked_prediction

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    masked_prediction(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
