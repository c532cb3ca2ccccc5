"""Erase one group's property neurons (or a random control) in all layers, then probe."""

import zlib

import torch

from speechneurons.config import settings_from
from speechneurons.experiments.erasure import erased, group_neurons, random_control, sets_to_json
from speechneurons.experiments.probes import ProbeSettings, evaluate, resolve_layers
from speechneurons.experiments.pruning import ffn_pairs, load_property_neurons
from speechneurons.io import read_json, read_table, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, name, kind = snakemake.params, snakemake.wildcards.erasure, snakemake.wildcards.kind
    prop, group = name.split("-", 1)
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    best = read_json(snakemake.input.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    loaded = load_model(p.model_ref, p.device)
    pairs = ffn_pairs(loaded.model)
    sets = group_neurons(load_property_neurons(snakemake.input.neurons), prop, group)
    if kind == "random":
        widths = {layer: fc1.out_features for layer, (fc1, _) in pairs.items()}
        sets = random_control(sets, widths, seed=p.seed, stream=zlib.crc32(name.encode()))
    n_erased = sum(len(v) for v in sets.values())
    log.info("%s (%s): erasing %d neurons: %s", name, kind, n_erased, {l: len(v) for l, v in sets.items()})
    tables = [read_table(snakemake.input[k]) for k in ("manifest", "labels", "pitch")]
    with erased(pairs, sets):
        losses, _ = evaluate(
            loaded.model,
            *tables,
            {t: list(r) for t, r in roles.items()},
            settings,
            loaded.device,
            normalize=loaded.do_normalize,
            on_bad_input=p.on_bad_input,
        )
    write_table(losses, snakemake.output.losses)
    write_json(
        snakemake.output.neurons, {"erasure": name, "kind": kind, "n_erased": n_erased, "neurons": sets_to_json(sets)}
    )
