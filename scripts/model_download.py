"""Fetch a Hugging Face model into the local Hugging Face cache (model.download: true)."""

from speechneurons.logs import script_logging
from speechneurons.model.jobs import download

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    download(snakemake.input, snakemake.output, snakemake.params)
