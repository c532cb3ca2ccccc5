"""Frozen features of every pruned and erased variant at the probe layers. Variants silence FFN
neurons of the unpruned model, so each utterance's front-end runs once and the transformer
once per variant; pruned models that were pretrained further run on their own."""

import torch

from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_json, read_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model
from speechneurons.probing.features import Variant, extract_features, save_features
from speechneurons.probing.probes import resolve_layers

snakemake = globals()["snakemake"]  # injected by Snakemake


def masks(path: str) -> dict[int, list[int]]:
    """layer -> silenced neurons, from a pruned_neurons.json or erased_neurons.json."""
    return {int(layer): idx for layer, idx in read_json(path)["neurons"].items()}


with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], p.tasks)
    layers = sorted({layer for by_layer in roles.values() for layer in by_layer})
    manifest, frames = read_manifest(inp.manifest), read_table(inp.frames)
    batching = snakemake.config["probes"]  # speed only: not params, so that it reruns nothing
    options = dict(
        batch_seconds=batching["batch_seconds"], max_pad_ratio=batching["max_pad_ratio"], on_bad_input=p.on_bad_input
    )
    names = [f"prune {st}" + ("" if sp is None else f" {sp:g}") for st, sp in p.pruning] + [
        f"erase {er} {kind}" for er, kind in p.erasures
    ]
    sources = list(inp.pruned) + list(inp.erased)
    retrained = set(names[: len(p.pruning)]) if p.pruned_models_differ else set()
    log.info("%d variants at layers %s (%d with their own weights)", len(names), layers, len(retrained))
    features = {}
    shared = [Variant(n, masks(src)) for n, src in zip(names, sources, strict=True) if n not in retrained]
    if shared:
        features |= extract_features(load_model(p.model_ref, p.device), manifest, frames, layers, shared, **options)
    for name, model_dir in zip(names, inp.models, strict=False):
        if name in retrained:
            features |= extract_features(load_model(model_dir, p.device), manifest, frames, layers,
                                         [Variant(name)], **options)  # fmt: skip
    for name, path in zip(names, snakemake.output, strict=True):
        save_features(features[name], path)
    log.info("%d utterances skipped", len(features[names[0]].skipped) if names else 0)
