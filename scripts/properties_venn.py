"""Venn diagram of one layer's phone-type, gender and pitch neurons (exclusive regions)."""

from speechneurons.io import read_json
from speechneurons.logs import script_logging
from speechneurons.properties.figures import plot_venn

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    neurons = read_json(snakemake.input.neurons)
    regions = plot_venn(neurons, snakemake.output.venn)
    log.info("exclusive regions (Abc, aBc, ABc, abC, AbC, aBC, ABC): %s", regions)
