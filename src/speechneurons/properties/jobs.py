"""The jobs of the properties stage: one function per script (``scripts/properties_<job>.py`` runs
``properties.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

import pandas as pd

from speechneurons.config import settings_from
from speechneurons.device import resolve_device
from speechneurons.io import load_npz, paths, read_json, read_table, write_json, write_table
from speechneurons.properties.chance import (
    ChanceSettings,
    binning_sensitivity,
    min_count_sensitivity,
    silhouette_scores,
)
from speechneurons.properties.nulls import NullSettings, bootstrap_sets, null_sets, random_mean, with_random_weights
from speechneurons.properties.statistic import PropertySettings, layer_statistic
from speechneurons.properties.tables import load_dump, summarize, write_layer

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def heatmap(inp, out, p) -> None:
    """Heat maps of P(j | c, g) for the strongest neurons of every group of one layer."""
    from speechneurons.properties.figures import plot_heatmaps

    with load_npz(inp.P) as npz:
        arrays = dict(npz)
    plot_heatmaps(
        arrays,
        read_table(inp.R),
        read_table(inp.counts),
        read_json(inp.neurons),
        out.heatmap,
        n_neurons=p.n_neurons,
        n_pitch_bins=p.n_pitch_bins,
    )


def layer(inp, out, p, threads: int = 1) -> None:
    """Property-neuron statistics of one layer: mid.npy + index_mid.parquet -> neurons.json, P.npz,
    R.parquet, counts.tsv, skipped.tsv (docs/property-neurons.md), and what the counts mean: one
    null per property (speakers relabeled for gender, labels shifted circularly within each
    utterance for phone type and pitch) and the bootstrap replicates over speakers and over
    utterances within speaker (null.tsv, replicates.tsv), the min_count sensitivity, the
    silhouette of P(. | c, g) by group and the pitch neurons under the other pitch binning
    (pitch_binning.tsv)."""
    import torch

    from speechneurons.activations.dump import bound_heap

    torch.set_num_threads(max(1, threads))
    bound_heap()  # the row chunks' buffers go back to the system: the peak stays flat in the frames
    layer = int(p.layer)
    settings, chance = settings_from(PropertySettings, p.settings), settings_from(ChanceSettings, p.chance)
    nulls = settings_from(NullSettings, p.nulls)
    acts, index = load_dump(inp.mid, inp.index)
    # device and chunk_rows change no result (integer counts, deterministic ties)
    device = resolve_device(p.device)
    log.info("layer %d: %d middle frames x %d neurons on %s", layer, *acts.shape, device)
    lp, labels, top = layer_statistic(
        acts, index, layer, settings, p.n_pitch_bins, p.chunk_rows, str(device), p.on_bad_input, inp.mid
    )
    args = (settings.sigma, settings.min_count, p.n_pitch_bins, settings.selection, settings.fdr_q)
    write_layer(lp, **{k: out[k] for k in ("neurons", "P", "R", "counts", "skipped")})
    utterances = index["utt_id"].to_numpy()
    speakers = index["speaker"].to_numpy()
    null = null_sets(top, labels, utterances, speakers, lp.property_neurons, *args[:3], nulls, p.seed, *args[3:])
    boot = bootstrap_sets(top, labels, utterances, speakers, layer, *args[:3], nulls.count_resamples, p.seed, *args[3:])
    write_table(null.groups, out.null)
    write_table(pd.concat([null.sets, boot], ignore_index=True), out.replicates)
    sens = min_count_sensitivity(top, labels, layer, settings.sigma, chance.sensitivity_min_counts, *args[2:])
    write_table(sens, out.sensitivity)
    write_json(out.silhouette, {"layer": layer, **silhouette_scores(lp)})
    binning = binning_sensitivity(top, labels, index["f0_hz"].to_numpy(), p.binning, layer, *args)
    write_table(binning, out.binning)
    draws = null.sets.groupby("property") if len(null.sets) else None
    log.info(
        "tau = %d; property neurons: %s; null draws: %s; chance (97.5 %% quantile): %s; skipped: %s",
        lp.tau,
        {k: len(v) for k, v in lp.property_neurons.items()},
        draws.size().to_dict() if draws is not None else {},
        {k: float(g[f"n_{k}"].quantile(0.975)) for k, g in draws} if draws is not None else {},
        lp.skipped,
    )


def layer_figures(inp, out, p) -> None:
    """Figures over layers: property-neuron counts and overlaps per layer, from summary.tsv."""
    from speechneurons.properties.figures import plot_counts_per_layer, plot_overlaps_per_layer

    summary = read_table(inp.summary)
    random_weights = random_mean([read_table(x) for x in paths(inp.random_weights)])
    title = p.title
    plot_counts_per_layer(summary, out.counts, title=title, random_weights=random_weights)
    plot_overlaps_per_layer(summary, out.overlaps, title=f"overlap of property neurons, {title}")


def summary(inp, out, p) -> None:
    """Summary of the property neurons over layers: each layer's neurons.json and counts.tsv -> summary.tsv,
    with the counts of the same architecture with random weights beside them (when given)."""
    summary = summarize(inp.neurons, inp.counts, inp.replicates, inp.silhouette, p.level, inp.binning)
    summary = with_random_weights(summary, [read_table(x) for x in paths(inp.random_weights)])
    write_table(summary, out.summary)
    log.info("\n%s", summary[["layer", "n_phone_type", "n_gender", "n_pitch", "overlap_gender_pitch"]].to_string())


def venn(inp, out, p) -> None:
    """Venn diagram of one layer's phone-type, gender and pitch neurons (exclusive regions)."""
    from speechneurons.properties.figures import plot_venn

    neurons = read_json(inp.neurons)
    regions = plot_venn(neurons, out.venn)
    log.info("exclusive regions (Abc, aBc, ABc, abC, AbC, aBC, ABC): %s", regions)
