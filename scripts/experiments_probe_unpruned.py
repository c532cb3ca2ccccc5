"""Probe every layer of the unpruned model; pick the best layer per task."""

import torch

from speechneurons.config import settings_from
from speechneurons.experiments.probes import ProbeSettings, best_layers, evaluate
from speechneurons.experiments.stats import compare
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import check_frame_grid, load_model

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p = snakemake.params
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    layers = list(range(1, loaded.num_layers + 1))
    losses, skipped = evaluate(
        loaded.model,
        read_table(snakemake.input.manifest),
        read_table(snakemake.input.labels),
        read_table(snakemake.input.pitch),
        dict.fromkeys(settings.tasks, layers),
        settings,
        loaded.device,
        normalize=loaded.do_normalize,
        on_bad_input=p.on_bad_input,
    )
    write_table(losses, snakemake.output.losses)
    write_table(skipped, snakemake.output.skipped)
    write_table(compare(losses, None, n_boot=0), snakemake.output.layers)
    best = best_layers(losses)
    log.info("best layer per task: %s", best)
    write_json(snakemake.output.best, {"num_layers": loaded.num_layers, "best": best})
