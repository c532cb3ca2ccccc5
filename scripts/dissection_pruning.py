"""Concept-specific pruning: zero each concept's tagged neurons (and a matched random control)
in every dissected layer, and score the drop of the probes' own-class logits on test utterances."""

import pandas as pd
import torch

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.dissection.pruning import concept_sets, run_pruning
from speechneurons.dissection.settings import PruningSettings
from speechneurons.io import read_table, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model
from speechneurons.probing.features import FrameSettings
from speechneurons.probing.probes import ProbeSettings

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    settings = settings_from(PruningSettings, p.settings, seed=p.seed, resamples=p.resamples, level=p.level)
    neurons = pd.concat([read_table(path) for path in inp.neurons], ignore_index=True)
    sets = concept_sets(neurons, settings, p.n_pitch_bins)
    for s in sets:
        log.info("%s (%s items): %s tagged per layer", s["concept"], s["kind"],
                 {layer: len(v) for layer, v in s["tagged"].items()} or "none")  # fmt: skip
    batching = snakemake.config["probes"]  # speed only: not params, so that it reruns nothing
    table = run_pruning(
        load_model(p.model_ref, p.device, random_weights=p.random_weights, seed=p.probe_seed),
        read_manifest(inp.manifest),
        read_table(inp.labels),
        read_table(inp.pitch),
        sets,
        settings,
        settings_from(ProbeSettings, p.probe, seed=p.probe_seed),
        settings_from(FrameSettings, p.frame_settings, seed=p.probe_seed),
        p.n_pitch_bins,
        batch_seconds=batching["batch_seconds"],
        max_pad_ratio=batching["max_pad_ratio"],
        on_bad_input=p.on_bad_input,
    )
    log.info("\n%s", table.drop(columns=["tagged_per_layer"]).round(3).to_string(index=False))
    write_table(table, snakemake.output.table)
    write_json(snakemake.output.sets, {"sets": sets})
