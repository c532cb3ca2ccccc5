"""Tables and figures of the SAE study: every SAE with intervals, the paper's two claims,
SAE latents against neurons as carriers of properties (each count with its chance level and
the cost of erasing them), and the figures."""

from speechneurons.logs import script_logging
from speechneurons.saes.jobs import summary

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    summary(snakemake.input, snakemake.output, snakemake.params)
