"""Probe scores of the model with each SAE spliced into its layer, and with property latents
and property neurons erased against their random controls (speechneurons.saes.downstream)."""

import pandas as pd
import torch

from speechneurons.activated import rates_from_npz
from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_json, read_table, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model
from speechneurons.probing.features import extract_features
from speechneurons.probing.probes import ProbeSettings, resolve_layers, run_probes
from speechneurons.saes.downstream import erasure_table, evenly_spread, probe_variants, splice_table
from speechneurons.saes.sae import SparseAutoencoder

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    loaded = load_model(p.model_ref, p.device)
    keys = [(layer, arch) for layer in p.splice_layers for arch in p.architectures]  # the order of inp.saes
    saes = {key: SparseAutoencoder.load(path, loaded.device) for key, path in zip(keys, inp.saes, strict=True)}
    erasure_keys = [(layer, arch) for layer in p.splice_layers for arch in p.erasure_architectures]
    latents = {key: read_json(path) for key, path in zip(erasure_keys, inp.latents, strict=True)}
    latent_rates = {key: rates_from_npz(path) for key, path in zip(erasure_keys, inp.latent_P, strict=True)}
    neurons = {layer: read_json(path) for layer, path in zip(p.splice_layers, inp.neurons, strict=True)}
    neuron_rates = {layer: rates_from_npz(path) for layer, path in zip(p.splice_layers, inp.neuron_P, strict=True)}
    variants, sets = probe_variants(saes, latents, latent_rates, neurons, neuron_rates, p.erasures,
                                    p.erasure_architectures, p.rate_bins, p.seed)  # fmt: skip
    manifest = evenly_spread(read_manifest(inp.manifest), p.probe_utterances)
    layers = sorted({layer for by_layer in roles.values() for layer in by_layer})
    log.info("%d variants on %d utterances, probed at layers %s", len(variants), len(manifest), layers)
    batching = snakemake.config["probes"]  # speed only: not params, so that it reruns nothing
    features = extract_features(loaded, manifest, read_table(inp.frames), layers, variants,
                                batch_seconds=batching["batch_seconds"], max_pad_ratio=batching["max_pad_ratio"],
                                on_bad_input=p.on_bad_input)  # fmt: skip
    losses = {v.name: run_probes(features[v.name], roles, settings) for v in variants}
    write_table(pd.concat([df.assign(variant=name) for name, df in losses.items()], ignore_index=True), out.losses)
    sizes = {name: int(sum(len(idx) for idx in by_layer.values())) for name, by_layer in sets.items()}
    write_json(out.variants, {
        "variants": [v.name for v in variants],
        "erased": {name: {str(layer): [int(j) for j in idx] for layer, idx in by_layer.items()}
                   for name, by_layer in sets.items()},
        "n_erased": sizes,
    })  # fmt: skip
    splice = splice_table(losses, roles, p.resamples, p.seed, p.level)
    erasure = erasure_table(losses, sizes, roles, p.resamples, p.seed, p.level)
    log.info("splicing:\n%s\nerasure:\n%s", splice.to_string(index=False), erasure.to_string(index=False))
    write_table(splice, out.splice)
    write_table(erasure, out.erasure)
