"""Frame targets of one pretraining iteration: k-means of MFCC + deltas (targets 'mfcc') or of a
layer of the previous iteration's model (targets 'layer'), fitted on the pretraining splits and
assigned to every utterance (held-out utterances get targets to score the model on, never to
fit or train); one label per model frame, and the cluster centres."""

import numpy as np
import torch

from speechneurons.corpus.manifest import read_manifest
from speechneurons.device import resolve_device
from speechneurons.frames import FrameGrid
from speechneurons.io import atomic_path, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model import targets as T
from speechneurons.model.hubert import load_checkpoint
from speechneurons.model.pretrain import load_corpus

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    torch.set_num_threads(snakemake.threads)
    grid = FrameGrid.from_config(p.frames)
    manifest = read_manifest(snakemake.input.manifest)
    ids, waves, skipped = load_corpus(manifest, grid, None, p.on_bad_input, min_frames=1)
    split = dict(zip(manifest["utt_id"].astype(str), manifest["split"]))
    fit = [split[u] in p.splits for u in ids]
    log.info("%d utterances (%.1f min), %d of them fit the k-means", len(ids),
             sum(map(len, waves)) / grid.sample_rate / 60, sum(fit))  # fmt: skip
    if p.targets == "mfcc":
        labels, centres, info = T.mfcc_targets(waves, grid, p.n_clusters, p.seed, p.n_mfcc, p.kmeans_max_frames, fit)
    else:
        model = load_checkpoint(snakemake.input.model)[0]
        labels, centres, info = T.layer_targets(
            model, waves, grid, p.layer, p.n_clusters, p.seed, resolve_device(p.device), p.kmeans_max_frames, fit
        )
    info.update(skipped=len(skipped), seed=p.seed, fit_splits=list(p.splits))
    log.info("targets: %s", info)
    write_table(T.targets_table(ids, labels), snakemake.output.targets)
    with atomic_path(snakemake.output.centres) as tmp, open(tmp, "wb") as fh:
        np.save(fh, centres)
    write_json(snakemake.output.info, info)
