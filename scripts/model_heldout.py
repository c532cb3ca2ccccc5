"""Masked-prediction accuracy of every checkpoint on held-out utterances (the learning curve
on data the model never trained on), with chance and the majority-class rate."""

import numpy as np
import pandas as pd
import torch

from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.figures import plot_heldout_curve
from speechneurons.model.hubert import load_checkpoint, masked_prediction_accuracy
from speechneurons.model.pretrain import align_targets, heldout_corpus
from speechneurons.model.targets import targets_from_table

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    grid = FrameGrid.from_config(p.frames)
    manifest = read_manifest(inp.manifest)
    ids, waves, held = heldout_corpus(manifest, grid, p.splits, p.on_bad_input, p.heldout_utterances)
    log.info("scoring on %d held-out utterances of splits %s", len(ids), held)
    targets = [targets_from_table(read_table(path)) for path in inp.targets]  # per iteration
    rows = []
    for name, iteration, step, folder in p.checkpoints:
        model, head, _ = load_checkpoint(folder)
        _, w, t, _ = align_targets(ids, waves, targets[iteration - 1], grid)
        scores = masked_prediction_accuracy(model, head, w, t, grid, p.mask_prob, p.mask_length, seed=p.seed)
        counts = np.bincount(np.concatenate(t), minlength=head.n_clusters)
        rows.append(dict(checkpoint=name, iteration=iteration, step=step, **scores, chance=1 / head.n_clusters,
                         majority_rate=float(counts.max() / counts.sum())))  # fmt: skip
        log.info(
            "%s: held-out masked accuracy %.4f (unmasked %.4f)", name, scores["masked_acc"], scores["unmasked_acc"]
        )
    table = pd.DataFrame(rows).sort_values("step", kind="stable")
    write_table(table, snakemake.output.table)
    plot_heldout_curve(table, [read_table(path) for path in inp.logs], snakemake.output.png)
