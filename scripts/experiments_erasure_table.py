"""erasure.tsv: each erasure per evaluation group against the unerased model and its control."""

from speechneurons.experiments.jobs import erasure_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    erasure_table(snakemake.input, snakemake.output, snakemake.params)
