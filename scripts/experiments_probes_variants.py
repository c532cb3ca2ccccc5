"""Probe every pruned and erased variant at the probe layers (last / best of the unpruned model)."""

from speechneurons.config import settings_from
from speechneurons.io import read_json, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.probing.features import load_features
from speechneurons.probing.probes import ProbeSettings, resolve_layers, run_probes

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, inp = snakemake.params, snakemake.input
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    frames, utts = read_table(inp.frames), read_table(inp.utterances)
    for features_path, losses_path in zip(inp.features, snakemake.output, strict=True):
        losses = run_probes(load_features(features_path, frames, utts), roles, settings)
        write_table(losses, losses_path)
    log.info("probed %d variants at %s", len(inp.features), roles)
