"""Figure of pruning.tsv: dA and dR per pruned concept against the random control."""

from speechneurons.dissection.figures import plot_pruning
from speechneurons.io import read_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    plot_pruning(read_table(snakemake.input.table), snakemake.output.figure, f"{snakemake.params.title}: "
                 "concept-specific pruning")  # fmt: skip
