"""Probe a pruned model at the configured layers (last / best of the unpruned model)."""

import torch

from speechneurons.config import settings_from
from speechneurons.experiments.probes import ProbeSettings, evaluate, resolve_layers
from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    best = read_json(snakemake.input.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    loaded = load_model(snakemake.input.model, p.device)
    log.info("FFN widths %s; probe layers %s", loaded.ffn_widths, roles)
    losses, _ = evaluate(
        loaded.model,
        read_table(snakemake.input.manifest),
        read_table(snakemake.input.labels),
        read_table(snakemake.input.pitch),
        {task: list(r) for task, r in roles.items()},
        settings,
        loaded.device,
        normalize=loaded.do_normalize,
        on_bad_input=p.on_bad_input,
    )
    write_table(losses, snakemake.output.losses)
