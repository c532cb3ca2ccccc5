"""Masked-prediction accuracy and loss on held-out utterances of the pretrained model with its
head, as it is and with each SAE spliced into its layer (speechneurons.saes.downstream)."""

import torch

from speechneurons.corpus.manifest import read_manifest
from speechneurons.device import resolve_device
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging
from speechneurons.model.hubert import load_checkpoint
from speechneurons.model.pretrain import align_targets, heldout_corpus
from speechneurons.model.targets import targets_from_table
from speechneurons.saes.downstream import masked_prediction_losses, masked_prediction_table, splice_edit, variant_name
from speechneurons.saes.sae import SparseAutoencoder

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, inp = snakemake.params, snakemake.input
    grid = FrameGrid.from_config(p.frames)
    manifest = read_manifest(inp.manifest)
    ids, waves, held = heldout_corpus(manifest, grid, p.splits, p.on_bad_input, p.heldout_utterances)
    _, waves, targets, skipped = align_targets(ids, waves, targets_from_table(read_table(inp.targets)), grid)
    model, head, _ = load_checkpoint(p.model_ref)
    device = resolve_device(p.device)
    model, head = model.to(device), head.to(device)
    keys = [(layer, arch) for layer in p.splice_layers for arch in p.architectures]  # the order of inp.saes
    variants = {"model": None}
    for (layer, arch), path in zip(keys, inp.saes, strict=True):
        sae = SparseAutoencoder.load(path, device)
        variants[variant_name("splice", arch, "layer", layer)] = splice_edit({layer: sae})
    log.info("%d held-out utterances of splits %s (%d without targets), %d variants", len(waves), held, skipped,
             len(variants))  # fmt: skip
    losses = masked_prediction_losses(model, head, waves, targets, grid, p.mask_prob, p.mask_length, p.seed, variants)
    table = masked_prediction_table(losses, p.resamples, p.seed, p.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, snakemake.output.table)
