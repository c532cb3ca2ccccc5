"""The experiments' linear probes (phone, speaker, gender, F0) on every layer of every analysed
checkpoint, on the utterances the PWCCA measures: test errors with bootstrap intervals."""

import pandas as pd
import torch

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import check_frame_grid, load_model
from speechneurons.probing.features import FrameSettings
from speechneurons.probing.probes import ProbeSettings
from speechneurons.trajectories.measures import measured_utterances, probe_checkpoint, probe_table
from speechneurons.trajectories.settings import SampleSettings
from speechneurons.trajectories.tables import add_steps

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp, out = snakemake.params, snakemake.input, snakemake.output
    sample = settings_from(SampleSettings, p.sample)
    probes = settings_from(ProbeSettings, p.probes, seed=p.seed)
    frame_settings = settings_from(FrameSettings, p.frame_settings, seed=p.seed)
    manifest, labels, pitch = read_manifest(inp.manifest), read_table(inp.labels), read_table(inp.pitch)
    utts = measured_utterances(manifest, labels, sample, p.seed)
    batching = snakemake.config["probes"]  # speed only: not params, so that it reruns nothing
    losses, tables = [], []
    for checkpoint, ref in p.checkpoints:
        loaded = load_model(ref, p.device)
        check_frame_grid(loaded, FrameGrid.from_config(p.frames))
        lost = probe_checkpoint(
            loaded, manifest, labels, pitch, utts, sample.layers, probes, frame_settings,
            batch_seconds=batching["batch_seconds"], max_pad_ratio=batching["max_pad_ratio"],
            on_bad_input=p.on_bad_input,
        )  # fmt: skip
        losses.append(lost.assign(checkpoint=checkpoint))
        tables.append(probe_table(lost, checkpoint, p.resamples, p.seed, p.level))
        best = tables[-1].loc[tables[-1].groupby("task")["value"].idxmin(), ["task", "layer", "value"]]
        log.info("%s: lowest test error per task %s", checkpoint, best.to_dict("records"))
    write_table(pd.concat(losses, ignore_index=True), out.losses)
    write_table(add_steps(pd.concat(tables, ignore_index=True), p.steps), out.table)
