"""Figures of the dissection: uninterpretable share per layer, agreement with property neurons."""

from speechneurons.dissection.figures import plot_agreement, plot_uninterpretable
from speechneurons.io import read_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    title = snakemake.params.title
    plot_uninterpretable(read_table(snakemake.input.summary), snakemake.output.uninterpretable, f"{title}: "
                         "neurons whose top items share no attribute")  # fmt: skip
    plot_agreement(read_table(snakemake.input.agreement), snakemake.output.agreement, f"{title}: top concept "
                   "against the property-neuron group")  # fmt: skip
