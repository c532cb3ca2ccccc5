"""pruning.tsv: unpruned vs each strategy at each sparsity, with bootstrap intervals."""

from speechneurons.experiments.jobs import pruning_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pruning_table(snakemake.input, snakemake.output, snakemake.params)
