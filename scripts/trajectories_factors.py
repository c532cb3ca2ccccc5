"""The pretraining runs compared: one row per run at its final checkpoint, and every run's
PWCCA and probe errors at the steps all runs saved (equal compute)."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import factors

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    factors(snakemake.input, snakemake.output, snakemake.params)
