"""Heat maps of P(j | c, g) for the strongest neurons of every group of one layer."""

from speechneurons.io import load_npz, read_json, read_table
from speechneurons.logs import script_logging
from speechneurons.properties.figures import plot_heatmaps

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    with load_npz(snakemake.input.P) as npz:
        arrays = dict(npz)
    plot_heatmaps(
        arrays,
        read_table(snakemake.input.R),
        read_table(snakemake.input.counts),
        read_json(snakemake.input.neurons),
        snakemake.output.heatmap,
        n_neurons=snakemake.params.n_neurons,
        n_pitch_bins=snakemake.params.n_pitch_bins,
    )
