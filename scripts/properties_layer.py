"""Property-neuron statistics of one layer: mid.npy + index_mid.parquet -> neurons.json, P.npz,
R.parquet, counts.tsv, skipped.tsv (docs/property-neurons.md), and what the counts mean: one
null per property (speakers relabeled for gender, labels shifted circularly within each
utterance for phone type and pitch) and the bootstrap replicates over speakers and over
utterances within speaker (null.tsv, replicates.tsv), the min_count
sensitivity, the silhouette of P(. | c, g) by group and the pitch neurons under the other
pitch binning (pitch_binning.tsv)."""

import pandas as pd
import torch

from speechneurons.config import settings_from
from speechneurons.device import resolve_device
from speechneurons.io import write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.properties.chance import (
    ChanceSettings,
    binning_sensitivity,
    min_count_sensitivity,
    silhouette_scores,
)
from speechneurons.properties.nulls import NullSettings, bootstrap_sets, null_sets
from speechneurons.properties.statistic import PropertySettings, count_top, layer_properties, layer_top, property_groups
from speechneurons.properties.tables import load_dump, write_layer

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(max(1, snakemake.threads))
    p, out, layer = snakemake.params, snakemake.output, int(snakemake.wildcards.layer)
    settings, chance = settings_from(PropertySettings, p.settings), settings_from(ChanceSettings, p.chance)
    nulls = settings_from(NullSettings, p.nulls)
    acts, index = load_dump(snakemake.input.mid, snakemake.input.index)
    # device and chunk_rows do not change any result (integer counts, deterministic ties), so
    # they come from the config directly instead of params and do not trigger reruns.
    cfg = snakemake.config
    device = resolve_device(cfg["device"])
    log.info("layer %d: %d middle frames x %d neurons on %s", layer, *acts.shape, device)
    labels, top = layer_top(acts, index, settings, p.n_pitch_bins, cfg["properties"]["chunk_rows"], str(device),
                            p.on_bad_input, snakemake.input.mid)  # fmt: skip
    n_groups = {prop: len(g) for prop, g in property_groups(p.n_pitch_bins).items()}
    args = (settings.sigma, settings.min_count, p.n_pitch_bins, settings.selection, settings.fdr_q)
    lp = layer_properties(count_top(top, labels, n_groups), layer, *args)
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
    log.info("tau = %d; property neurons: %s; null draws: %s; chance (97.5 %% quantile): %s; skipped: %s", lp.tau,
             {k: len(v) for k, v in lp.property_neurons.items()}, draws.size().to_dict() if draws is not None else {},
             {k: float(g[f"n_{k}"].quantile(0.975)) for k, g in draws} if draws is not None else {},
             lp.skipped)  # fmt: skip
