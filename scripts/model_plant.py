"""A planted model: the base model with property neurons (or the null twin's speaker-keyed units)
written in by weight surgery (docs/positive-controls.md)."""

from speechneurons.logs import script_logging
from speechneurons.model.jobs import plant

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    plant(snakemake.input, snakemake.output, snakemake.params)
