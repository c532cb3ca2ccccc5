"""The jobs of the comparison stage: one function per script (``scripts/comparison_<job>.py`` runs
``comparison.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

from speechneurons.comparison.tables import stack, with_depth
from speechneurons.io import write_table

log = logging.getLogger(__name__)


def compare(inp, out, p) -> None:
    """The per-pair tables stacked with corpus and model columns, and the property-share figure."""
    from speechneurons.comparison.figures import plot_property_share

    pairs = [tuple(p) for p in p.pairs]
    summary = with_depth(stack(pairs, inp.summaries))
    write_table(summary, out.summary)
    for name in ("pruning", "erasure", "findings"):
        write_table(stack(pairs, inp[name]), out[name])
    plot_property_share(summary, out.figure, "Property neurons per layer, every model of the run")
    log.info(
        "\n%s", summary[["corpus", "model", "layer", "n_phone_type", "n_gender", "n_pitch"]].to_string(index=False)
    )
