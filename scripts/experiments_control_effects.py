"""Pruning and erasure effects against their matched control draws, scored by fixed probes
(speechneurons.experiments.jobs.control_effects)."""

from speechneurons.experiments.jobs import control_effects
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    control_effects(snakemake.input, snakemake.output, snakemake.params, snakemake.threads)
