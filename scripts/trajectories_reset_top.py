"""CTC phone fine-tuning with the top n layers re-initialised (n = the job's wildcard): one
fine-tuning per candidate learning rate on train minus a dev part, the rate with the lowest dev
PER chosen, its per-utterance edit distances on test."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import reset_top

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    reset_top(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
