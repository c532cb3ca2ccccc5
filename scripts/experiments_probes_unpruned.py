"""Probe every layer of the unpruned model; pick the best layer per task."""

from speechneurons.config import settings_from
from speechneurons.io import read_table, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.probing.features import load_features
from speechneurons.probing.probes import ProbeSettings, best_layers, run_probes, validation_features
from speechneurons.probing.scoring import point_scores

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, out = snakemake.params, snakemake.output
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    features = load_features(
        snakemake.input.features, read_table(snakemake.input.frames), read_table(snakemake.input.utterances)
    )
    layers = sorted(features.frame_feats)
    every_layer = dict.fromkeys(settings.tasks, layers)
    losses = run_probes(features, every_layer, settings)
    write_table(losses, out.losses)
    # the layer a task reports is chosen on a validation part of the train split, never on test
    validation = run_probes(validation_features(features, settings.validation_fraction, p.seed), every_layer, settings)
    best = best_layers(validation)
    scores = point_scores(validation)[["task", "layer", "eval_group", "value"]]
    table = point_scores(losses).merge(
        scores.rename(columns={"value": "validation_value"}), on=["task", "layer", "eval_group"], how="left"
    )
    write_table(table, out.layers)
    log.info("best layer per task (on the validation part of train): %s", best)
    write_json(out.best, {"num_layers": max(layers), "best": best, "chosen_on": "validation part of the train split"})
