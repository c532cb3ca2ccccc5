"""Probe every layer of the unpruned model; pick the best layer per task."""

from speechneurons.config import settings_from
from speechneurons.experiments.features import load_features
from speechneurons.experiments.probes import ProbeSettings, best_layers, run_probes
from speechneurons.experiments.stats import compare
from speechneurons.io import read_table, write_json, write_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, out = snakemake.params, snakemake.output
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    features = load_features(
        snakemake.input.features, read_table(snakemake.input.frames), read_table(snakemake.input.utterances)
    )
    layers = sorted(features.frame_feats)
    losses = run_probes(features, dict.fromkeys(settings.tasks, layers), settings)
    write_table(losses, out.losses)
    write_table(compare(losses, None, n_boot=0), out.layers)
    best = best_layers(losses)
    log.info("best layer per task: %s", best)
    write_json(out.best, {"num_layers": max(layers), "best": best})
