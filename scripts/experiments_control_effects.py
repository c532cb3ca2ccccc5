"""control_effects.tsv: protect-vs-norm pruning and every erasure read against the same effect
for experiments.scored_control_draws matched control draws (the draws of experiments_prune and
experiments_erasure_sets, same seeds: draw 0 is the control those probes were run on), scored
by fixed probes on the test utterances (speechneurons.experiments.control_effects)."""

import time
import zlib

import torch

from speechneurons.activated import rates_from_npz
from speechneurons.config import settings_from
from speechneurons.experiments.control_effects import (
    control_effects_table,
    fit_fixed_probes,
    fixed_probe_errors,
    plan_variants,
)
from speechneurons.experiments.matching import MatchSettings, matched_controls
from speechneurons.experiments.pruning import ffn_pairs
from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model
from speechneurons.neuron_sets import group_neurons, load_property_neurons, protected_neurons
from speechneurons.probing.features import Variant, extract_features, load_features
from speechneurons.probing.probes import ProbeSettings, resolve_layers

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    start = time.process_time()
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    m = settings_from(MatchSettings, p.matching)
    n = int(p.scored_control_draws)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    layers = sorted({layer for by_layer in roles.values() for layer in by_layer})
    neurons = load_property_neurons(inp.neurons)
    rates = {int(doc["layer"]): rates_from_npz(path) for doc, path in zip(neurons.values(), inp.P)}
    protected = protected_neurons(neurons, p.protect_properties)
    any_property = protected_neurons(neurons)
    protect_draws = []
    if p.pruning_comparable:  # protect and norm configured, pruned models not pretrained further
        protect_draws = matched_controls(protected, rates, n, p.seed, zlib.crc32(b"protect_random"),
                                         m.match_neighbours, target=m.balance_ks)  # fmt: skip
    erasures = {}
    for name in p.erasures:
        prop, group = name.split("-", 1)
        sets = group_neurons(neurons, prop, group)
        if sum(len(v) for v in sets.values()):
            draws = matched_controls(sets, rates, n, p.seed, zlib.crc32(name.encode()), m.match_neighbours,
                                     exclude=any_property, target=m.balance_ks)  # fmt: skip
            erasures[name] = (sets, draws)
    loaded = load_model(p.model_ref, p.device)
    masks, comparisons = plan_variants(
        ffn_pairs(loaded.model), protected, protect_draws, p.sparsities, erasures, p.seed
    )
    manifest = read_table(inp.manifest)
    test = manifest[manifest["split"] == "test"]
    frames, utts = read_table(inp.frames), read_table(inp.utterances)
    log.info("%d variants (%d control draws per comparison) on %d test utterances at layers %s",
             len(masks), n, len(test), layers)  # fmt: skip
    batching = snakemake.config["probes"]  # speed only
    feats = extract_features(loaded, test, frames, layers, [Variant(k, v) for k, v in masks.items()],
                             batch_seconds=batching["batch_seconds"], max_pad_ratio=batching["max_pad_ratio"],
                             on_bad_input=p.on_bad_input)  # fmt: skip
    probes = fit_fixed_probes(load_features(inp.features, frames, utts), roles, settings)
    errors = fixed_probe_errors(probes, feats)
    table = control_effects_table(errors, comparisons, roles, p.level)
    write_table(table, snakemake.output.table)
    log.info("\n%s", table.to_string(index=False))
    log.info("CPU time %.1f s for %d variants", time.process_time() - start, len(masks))
