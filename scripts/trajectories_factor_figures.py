"""The pretraining runs side by side at equal steps: per PWCCA view and per probe task, one
panel of layer curves per run; PER against n reset layers for every run."""

from speechneurons.logs import script_logging
from speechneurons.trajectories.jobs import factor_figures

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    factor_figures(snakemake.input, snakemake.output, snakemake.params)
