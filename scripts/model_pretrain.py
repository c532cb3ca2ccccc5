"""Pretrain one HuBERT iteration on the corpus and its frame targets: the iteration's checkpoints
(save_pretrained + head, named by the step counted over all iterations), its final model and
its training log."""

from speechneurons.logs import script_logging
from speechneurons.model.jobs import pretrain

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pretrain(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
