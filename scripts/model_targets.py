"""Frame targets of one pretraining iteration: k-means of MFCC + deltas (targets 'mfcc') or of a
layer of the previous iteration's model (targets 'layer'); one label per model frame."""

import torch

from speechneurons.device import resolve_device
from speechneurons.frames import FrameGrid
from speechneurons.io import write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model import targets as T
from speechneurons.model.pretrain import load_corpus

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    grid = FrameGrid.from_config(p.frames)
    ids, waves, skipped = load_corpus(snakemake.input.manifest, grid, p.splits, p.on_bad_input, min_frames=1)
    log.info("%d utterances (%.1f min) for targets", len(ids), sum(map(len, waves)) / grid.sample_rate / 60)
    if p.targets == "mfcc":
        labels, info = T.mfcc_targets(waves, grid, p.n_clusters, p.seed, p.n_mfcc, p.kmeans_max_frames)
    else:
        from transformers import HubertModel

        model = HubertModel.from_pretrained(snakemake.input.model)
        labels, info = T.layer_targets(
            model, waves, grid, p.layer, p.n_clusters, p.seed, resolve_device(p.device), p.kmeans_max_frames
        )
    info.update(n_utterances=len(ids), skipped=len(skipped), seed=p.seed)
    log.info("targets: %s", info)
    write_table(T.targets_table(ids, labels), snakemake.output.targets)
    write_json(snakemake.output.info, info)
