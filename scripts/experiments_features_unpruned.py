"""Frozen features of every layer of the unpruned model for the probes, and the probed frames
and utterances (the same rows for every model variant)."""

import pandas as pd
import torch

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import check_frame_grid, load_model
from speechneurons.probing.features import (
    SKIPPED_COLUMNS,
    FrameSettings,
    extract_features,
    probe_frames,
    save_features,
)

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, out = snakemake.params, snakemake.output
    manifest = read_manifest(snakemake.input.manifest)
    frames = probe_frames(
        manifest,
        read_table(snakemake.input.labels),
        read_table(snakemake.input.pitch),
        settings_from(FrameSettings, p.frame_settings, seed=p.seed),
    )
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    batching = snakemake.config["probes"]  # speed only: not params, so that it reruns nothing
    features = extract_features(
        loaded,
        manifest,
        frames,
        range(1, loaded.num_layers + 1),
        batch_seconds=batching["batch_seconds"],
        max_pad_ratio=batching["max_pad_ratio"],
        on_bad_input=p.on_bad_input,
    )["model"]
    log.info("%d frames, %d utterances, %d skipped", len(features.frames), len(features.utts), len(features.skipped))
    save_features(features, out.features)
    write_table(features.frames, out.frames)
    # no audio_path: the manifest has it (an absolute path here would differ between results folders)
    write_table(features.utts.drop(columns="audio_path"), out.utterances)
    write_table(pd.DataFrame(features.skipped, columns=SKIPPED_COLUMNS), out.skipped)
