"""The per-pair tables stacked with corpus and model columns, and the property-share figure."""

from speechneurons.comparison.figures import plot_property_share
from speechneurons.comparison.tables import stack, with_depth
from speechneurons.io import write_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    inp, out, pairs = snakemake.input, snakemake.output, [tuple(p) for p in snakemake.params.pairs]
    summary = with_depth(stack(pairs, inp.summaries))
    write_table(summary, out.summary)
    for name in ("pruning", "erasure", "findings"):
        write_table(stack(pairs, inp[name]), out[name])
    plot_property_share(summary, out.figure, "Property neurons per layer, every model of the run")
    log.info(
        "\n%s", summary[["corpus", "model", "layer", "n_phone_type", "n_gender", "n_pitch"]].to_string(index=False)
    )
