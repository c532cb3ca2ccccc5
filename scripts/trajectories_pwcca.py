"""Held-out PWCCA of every layer of one checkpoint against log-Mel frames, the front-end output
and one-hot phone and word labels."""

import torch
from threadpoolctl import threadpool_limits

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import drop_timings, read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import check_frame_grid, load_model
from speechneurons.trajectories.measures import load_waves, plan_for, pwcca_for_checkpoint
from speechneurons.trajectories.settings import PWCCASettings, SampleSettings

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    threadpool_limits(snakemake.threads)  # the SVDs: no oversubscribed BLAS threads
    p, out = snakemake.params, snakemake.output
    sample = settings_from(SampleSettings, p.sample)
    pwcca = settings_from(PWCCASettings, p.pwcca)
    manifest = read_manifest(snakemake.input.manifest)
    plan = plan_for(manifest, read_table(snakemake.input.labels), sample, pwcca, p.seed)
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    waves = load_waves(manifest, plan.utt_ids, loaded.grid.sample_rate)
    batching = snakemake.config["probes"]  # speed only: not params, so that it reruns nothing
    summary, trials = pwcca_for_checkpoint(
        loaded, waves, plan, sample, pwcca, snakemake.wildcards.checkpoint, p.seed,
        batch_seconds=batching["batch_seconds"], max_pad_ratio=batching["max_pad_ratio"],
    )  # fmt: skip
    log.info("PWCCA of %d layers against %s in %.1f s", summary["layer"].nunique(), list(pwcca.views),
             summary["seconds"].sum())  # fmt: skip
    write_table(drop_timings(summary), out.summary)
    write_table(trials, out.trials)
