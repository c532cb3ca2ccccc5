"""Figure of pruning.tsv: dA and dR per pruned concept against the random control."""

from speechneurons.dissection.jobs import pruning_figure
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    pruning_figure(snakemake.input, snakemake.output, snakemake.params)
