"""Prune the model for every (strategy, sparsity): the plan, the pruned neurons, and the
structurally smaller model (optionally pretrained further)."""

import copy
import dataclasses
import zlib
from pathlib import Path

import torch
from transformers import Wav2Vec2FeatureExtractor

from speechneurons.activated import rates_from_npz
from speechneurons.config import settings_from
from speechneurons.experiments.matching import MatchSettings, balance_table, matched_controls
from speechneurons.experiments.pruning import (
    KEEP_STRATEGIES,
    ffn_pairs,
    plan_keep,
    plan_pruning,
    plan_table,
    prune_model_,
)
from speechneurons.io import atomic_dir, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import load_model
from speechneurons.neuron_sets import load_property_neurons, protected_neurons, sets_to_json

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    torch.set_num_threads(snakemake.threads)
    p, out = snakemake.params, snakemake.output
    neurons = load_property_neurons(snakemake.input.neurons)
    protected = protected_neurons(neurons, p.protect_properties)
    rates = {int(doc["layer"]): rates_from_npz(path) for doc, path in zip(neurons.values(), snakemake.input.P)}
    # the matched control of the property neurons: same size and activation-rate distribution per layer
    m = settings_from(MatchSettings, p.matching)
    draws = matched_controls(protected, rates, m.control_draws, p.seed, zlib.crc32(b"protect_random"),
                             m.match_neighbours, target=m.balance_ks)  # fmt: skip
    matched = draws[0]  # the control the pruned models and probes are built from
    balance = balance_table(protected, draws, rates, m.balance_ks)
    write_table(balance, snakemake.output.controls)
    log.info("matched control of the protected set (nearest activation rate):\n%s", balance.to_string(index=False))
    base = load_model(p.model_ref, p.device)
    for layer in sorted(set(ffn_pairs(base.model)) - set(protected)):
        log.warning("layer %d has no property statistics: nothing protected there", layer)
    for i, (strategy, sparsity) in enumerate(p.variants):
        loaded = dataclasses.replace(base, model=copy.deepcopy(base.model))
        pairs = ffn_pairs(loaded.model)
        if strategy == "protect_random":
            plan = plan_pruning(pairs, "protect", sparsity, matched, seed=p.seed)
        elif strategy in KEEP_STRATEGIES:
            keep = matched if strategy == "keep_random" else protected
            plan = plan_keep(pairs, keep, by_norm=strategy == "keep_norm", protected=protected)
        else:
            plan = plan_pruning(pairs, strategy, sparsity, protected, seed=p.seed)
        table = plan_table(plan, strategy, sparsity)
        log.info("%s at sparsity %s:\n%s", strategy, sparsity, table.to_string(index=False))
        prune_model_(loaded.model, plan)
        if p.continued_pretraining_steps > 0:  # continued HuBERT pretraining of the pruned model, with its head
            from speechneurons.model.hubert import HEAD_FILE, load_head
            from speechneurons.model.pretrain import TrainSettings, continue_pretraining

            head = load_head(p.model_ref) if (Path(p.model_ref) / HEAD_FILE).exists() else None
            _, _, train_log = continue_pretraining(
                loaded.model, snakemake.input.manifest, snakemake.input.targets, p.continued_pretraining_steps,
                settings_from(TrainSettings, p.train), head=head, grid=loaded.grid, splits=p.pretrain_splits,
                device=loaded.device, seed=p.seed,
            )  # fmt: skip
            log.info("continued pretraining:\n%s", train_log.tail().to_string(index=False))
            loaded.model.config.apply_spec_augment = False
        with atomic_dir(out.models[i]) as tmp:
            loaded.model.save_pretrained(tmp)
            extractor = Wav2Vec2FeatureExtractor(
                sampling_rate=loaded.grid.sample_rate, do_normalize=loaded.do_normalize
            )
            extractor.save_pretrained(tmp)
        write_table(table, out.plans[i])
        write_json(
            out.neurons[i],
            {
                "strategy": strategy,
                "sparsity": sparsity,
                "neurons": sets_to_json({c.layer: c.pruned for c in plan.values()}),
            },
        )
