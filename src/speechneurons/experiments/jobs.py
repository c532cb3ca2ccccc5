"""The jobs of the experiments stage: one function per script (``scripts/experiments_<job>.py`` runs
``experiments.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import copy
import dataclasses
import logging
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.activated import control_rates, rates_from_npz
from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.experiments import erasure as E
from speechneurons.experiments import pruning as P
from speechneurons.experiments.erasure import erasure_matrix
from speechneurons.experiments.pruning import ffn_pairs, plan_keep, plan_pruning, plan_table, prune_model_
from speechneurons.experiments.variants import KEEP_STRATEGIES
from speechneurons.frames import FrameGrid
from speechneurons.io import atomic_dir, read_json, read_table, write_json, write_table
from speechneurons.model.registry import check_frame_grid, load_model
from speechneurons.neuron_sets import group_neurons, load_property_neurons, protected_neurons, sets_to_json
from speechneurons.probing.features import (
    SKIPPED_COLUMNS,
    FrameSettings,
    Variant,
    extract_features,
    load_features,
    probe_frames,
    save_features,
)
from speechneurons.probing.probes import ProbeSettings, best_layers, resolve_layers, run_probes, validation_features
from speechneurons.probing.scoring import point_scores
from speechneurons.stats.controls import MatchSettings, balance_table, matched_controls, share_balanced
from speechneurons.study import parse_erasure_name

# torch, transformers and matplotlib are imported in the jobs that use them: a job process pays
# only for its own imports (experiments.pruning, model.registry and probing.* import torch where
# they run a model, not at import) (issue 28).

log = logging.getLogger(__name__)


def masks(path: str) -> dict[int, list[int]]:
    """layer -> silenced neurons, from a pruned_neurons.json or erased_neurons.json."""
    return {int(layer): idx for layer, idx in read_json(path)["neurons"].items()}


def erasure_figure(inp, out, p) -> None:
    """Figure of erasure.tsv (see speechneurons.experiments.figures)."""
    from speechneurons.experiments.figures import plot_erasure

    plot_erasure(read_table(inp.table), out.figure, title=p.title)


def layer_rates(neurons, P) -> dict[int, np.ndarray]:
    """Per layer, the activation rates over all frames (``rates_from_npz``). ``neurons``: layer ->
    neurons.json, in the order of the P.npz paths ``P``."""
    return {int(doc["layer"]): rates_from_npz(path) for doc, path in zip(neurons.values(), P, strict=True)}


def erasure_rates(neurons, P, name: str, how: str) -> dict[int, np.ndarray]:
    """Per layer, the activation rates an erasure's random control is matched on
    (experiments.erasure_control_rate, :func:`~speechneurons.activated.control_rates`).
    ``neurons``: layer -> neurons.json, in the order of the P.npz paths ``P``."""
    return {int(doc["layer"]): control_rates(path, name, how) for doc, path in zip(neurons.values(), P, strict=True)}


def erasure_sets(inp, out, p) -> None:
    """The neurons each erasure silences: a group's property neurons in every layer, and a random
    control of the same size per layer matched by nearest activation rate (on the erased group's
    frames or over all of them: experiments.erasure_control_rate; its balance over
    experiments.control_draws draws in random_match.tsv), drawn from the neurons that are no
    property's neurons (so that the control of gender-M never erases gender-F neurons)."""
    m = settings_from(MatchSettings, p.matching)
    neurons = load_property_neurons(inp.neurons)
    any_property = protected_neurons(neurons)  # every property's neurons, per layer
    matches = []
    for (name, kind), path in zip(p.variants, out.neurons, strict=True):
        prop, group = parse_erasure_name(name)
        sets = group_neurons(neurons, prop, group)
        if kind == "random":  # drawn from the neurons that are no property's neurons
            erased = sets
            rates = erasure_rates(neurons, inp.P, name, p.erasure_control_rate)
            draws = matched_controls(
                erased,
                rates,
                m.control_draws,
                p.seed,
                zlib.crc32(name.encode()),
                m.match_neighbours,
                exclude=any_property,
                target=m.balance_ks,
            )
            sets = draws[0]  # the control the erased model is scored with
            balance = balance_table(erased, draws, rates, m.balance_ks)
            matches.append(balance.assign(erasure=name, matched_on=f"{p.erasure_control_rate} rate"))
        n_erased = sum(len(v) for v in sets.values())
        log.info("%s (%s): %d neurons %s", name, kind, n_erased, {layer: len(v) for layer, v in sets.items()})
        write_json(path, {"erasure": name, "kind": kind, "n_erased": n_erased, "neurons": sets_to_json(sets)})
    write_table(pd.concat(matches, ignore_index=True) if matches else pd.DataFrame(), out.controls)


def erasure_table(inp, out, p) -> None:
    """erasure.tsv: each erasure per evaluation group against the unerased model and its control."""
    baseline = read_table(inp.unpruned)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], sorted(baseline["task"].unique()))
    keys = [tuple(key) for key in p.variants]  # (erasure, kind) in the order of the inputs
    variants = {key: read_table(path) for key, path in zip(keys, inp.losses)}
    n_erased = {key: read_json(path)["n_erased"] for key, path in zip(keys, inp.neurons)}
    table = E.erasure_table(baseline, variants, n_erased, roles, p.resamples, p.seed, p.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, out.table)
    for prop, path in (("gender", out.gender), ("phone_type", out.phone_type)):
        matrix = erasure_matrix(table, prop)
        log.info("%s erasure table:\n%s", prop, matrix.to_string(index=False))
        write_table(matrix, path)


def features_unpruned(inp, out, p, threads: int = 1) -> None:
    """Frozen features of every layer of the unpruned model for the probes, and the probed frames
    and utterances (the same rows for every model variant)."""
    import torch

    torch.set_num_threads(threads)
    manifest = read_manifest(inp.manifest)
    frames = probe_frames(
        manifest,
        read_table(inp.labels),
        read_table(inp.pitch),
        settings_from(FrameSettings, p.frame_settings, seed=p.seed),
    )
    loaded = load_model(p.model_ref, p.device)
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    batching = p.batching
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


def features_variants(inp, out, p, threads: int = 1) -> None:
    """Frozen features of every pruned and erased variant at the probe layers. Variants silence FFN
    neurons of the unpruned model, so each utterance's front-end runs once and the transformer
    once per variant; pruned models that were pretrained further run on their own."""
    import torch

    torch.set_num_threads(threads)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], p.tasks)
    layers = sorted({layer for by_layer in roles.values() for layer in by_layer})
    manifest, frames = read_manifest(inp.manifest), read_table(inp.frames)
    batching = p.batching
    options = dict(
        batch_seconds=batching["batch_seconds"], max_pad_ratio=batching["max_pad_ratio"], on_bad_input=p.on_bad_input
    )
    names = [f"prune {st}" + ("" if sp is None else f" {sp:g}") for st, sp in p.pruning] + [
        f"erase {er} {kind}" for er, kind in p.erasures
    ]
    sources = list(inp.pruned) + list(inp.erased)
    retrained = set(names[: len(p.pruning)]) if p.pruned_models_differ else set()
    log.info("%d variants at layers %s (%d with their own weights)", len(names), layers, len(retrained))
    features = {}
    shared = [Variant(n, masks(src)) for n, src in zip(names, sources, strict=True) if n not in retrained]
    if shared:
        features |= extract_features(load_model(p.model_ref, p.device), manifest, frames, layers, shared, **options)
    for name, model_dir in zip(names, inp.models, strict=False):
        if name in retrained:
            features |= extract_features(
                load_model(model_dir, p.device), manifest, frames, layers, [Variant(name)], **options
            )
    for name, path in zip(names, out.features, strict=True):
        save_features(features[name], path)
    log.info("%d utterances skipped", len(features[names[0]].skipped) if names else 0)


def probes_unpruned(inp, out, p) -> None:
    """Probe every layer of the unpruned model; pick the best layer per task."""
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    features = load_features(inp.features, read_table(inp.frames), read_table(inp.utterances))
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


def probes_variants(inp, out, p) -> None:
    """Probe every pruned and erased variant at the probe layers (last / best of the unpruned model)."""
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    frames, utts = read_table(inp.frames), read_table(inp.utterances)
    for features_path, losses_path in zip(inp.features, out.losses, strict=True):
        losses = run_probes(load_features(features_path, frames, utts), roles, settings)
        write_table(losses, losses_path)
    log.info("probed %d variants at %s", len(inp.features), roles)


def prune(inp, out, p, threads: int = 1) -> None:
    """Prune the model for every (strategy, sparsity): the plan, the pruned neurons, and the
    structurally smaller model (optionally pretrained further)."""
    import torch
    from transformers import Wav2Vec2FeatureExtractor

    torch.set_num_threads(threads)
    neurons = load_property_neurons(inp.neurons)
    protected = protected_neurons(neurons, p.protect_properties)
    rates = layer_rates(neurons, inp.P)
    # the matched control of the property neurons: same size per layer, matched by nearest activation rate
    m = settings_from(MatchSettings, p.matching)
    draws = matched_controls(
        protected,
        rates,
        m.control_draws,
        p.seed,
        zlib.crc32(b"protect_random"),
        m.match_neighbours,
        target=m.balance_ks,
    )
    matched = draws[0]  # the control the pruned models and probes are built from
    balance = balance_table(protected, draws, rates, m.balance_ks)
    write_table(balance, out.controls)
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
                loaded.model,
                inp.manifest,
                inp.targets,
                p.continued_pretraining_steps,
                settings_from(TrainSettings, p.train),
                head=head,
                grid=loaded.grid,
                splits=p.pretrain_splits,
                device=loaded.device,
                seed=p.seed,
            )
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


def pruning_figure(inp, out, p) -> None:
    """Figure of pruning.tsv (see speechneurons.experiments.figures)."""
    from speechneurons.experiments.figures import plot_pruning

    plot_pruning(read_table(inp.table), out.figure, title=p.title)


def pruning_table(inp, out, p) -> None:
    """pruning.tsv: unpruned vs each strategy at each sparsity, with bootstrap intervals."""
    unpruned = read_table(inp.unpruned)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], sorted(unpruned["task"].unique()))
    # the order of the inputs; the keep strategies have no nominal sparsity (None)
    keys = [(strategy, None if sparsity is None else float(sparsity)) for strategy, sparsity in p.variants]
    variants = {key: read_table(path) for key, path in zip(keys, inp.losses)}
    plans = {key: read_table(path) for key, path in zip(keys, inp.plans)}
    table = P.pruning_table(unpruned, variants, plans, roles, p.resamples, p.seed, p.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, out.table)


def control_effects(inp, out, p, threads: int = 1) -> None:
    """control_effects.tsv: protect-vs-norm pruning and every erasure read against the same effect
    for experiments.scored_control_draws matched control draws (the draws of experiments_prune and
    experiments_erasure_sets, same seeds and rates: draw 0 is the control those probes were run
    on), scored by fixed probes on the test utterances, each effect with its paired bootstrap
    interval (speechneurons.experiments.control_effects); control_balance.tsv: the balance of
    every scored family of draws, with the rate it was matched on."""
    import time

    import torch

    from speechneurons.experiments.control_effects import (
        control_effects_table,
        errors_from_losses,
        fit_fixed_probes,
        fixed_probe_losses,
        plan_variants,
    )

    torch.set_num_threads(threads)
    start = time.process_time()
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    m = settings_from(MatchSettings, p.matching)
    n = int(p.scored_control_draws)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    layers = sorted({layer for by_layer in roles.values() for layer in by_layer})
    neurons = load_property_neurons(inp.neurons)
    rates = layer_rates(neurons, inp.P)
    protected = protected_neurons(neurons, p.protect_properties)
    balances = {}  # comparison (protect_random, or erase <name>) -> the balance of its draws
    any_property = protected_neurons(neurons)
    protect_draws = []
    if p.pruning_comparable:  # protect and norm configured, pruned models not pretrained further
        protect_draws = matched_controls(
            protected, rates, n, p.seed, zlib.crc32(b"protect_random"), m.match_neighbours, target=m.balance_ks
        )
        balance = balance_table(protected, protect_draws, rates, m.balance_ks)
        balances["protect_random"] = balance.assign(comparison="protect_random", matched_on="overall rate")
    from speechneurons.findings.property_neurons import counts_at_chance

    summary = read_table(inp.summary)
    erasures, unscored = {}, {}
    for name in p.erasures:
        prop, group = parse_erasure_name(name)
        why = counts_at_chance(summary, prop)
        if why:  # the claim cannot be tested here (findings): no passes spent on its controls
            unscored[name] = f"not scored: {why}"
            log.info("erase %s: %s", name, unscored[name])
            continue
        sets = group_neurons(neurons, prop, group)
        if sum(len(v) for v in sets.values()):
            matched_on = erasure_rates(neurons, inp.P, name, p.erasure_control_rate)
            draws = matched_controls(
                sets, matched_on, n, p.seed, zlib.crc32(name.encode()), m.match_neighbours,
                exclude=any_property, target=m.balance_ks,
            )  # fmt: skip
            erasures[name] = (sets, draws)
            balance = balance_table(sets, draws, matched_on, m.balance_ks)
            key = f"erase {name}"
            balances[key] = balance.assign(comparison=key, matched_on=f"{p.erasure_control_rate} rate")
    loaded = load_model(p.model_ref, p.device)
    masks, comparisons = plan_variants(
        ffn_pairs(loaded.model), protected, protect_draws, p.sparsities, erasures, p.seed
    )
    for c in comparisons:  # every comparison's draws were balanced above
        balance = balances["protect_random" if c["kind"] == "pruning" else c["name"]]
        c |= {"matched_on": balance["matched_on"].iloc[0], "control_balanced": share_balanced(balance)}
    manifest = read_manifest(inp.manifest)
    test = manifest[manifest["split"] == "test"]
    frames, utts = read_table(inp.frames), read_table(inp.utterances)
    log.info("%d variants (%d control draws per comparison) on %d test utterances at layers %s",
             len(masks), n, len(test), layers)  # fmt: skip
    feats = extract_features(
        loaded, test, frames, layers, [Variant(k, v) for k, v in masks.items()],
        batch_seconds=p.batching["batch_seconds"], max_pad_ratio=p.batching["max_pad_ratio"],
        on_bad_input=p.on_bad_input,
    )  # fmt: skip
    probes = fit_fixed_probes(load_features(inp.features, frames, utts), roles, settings)
    losses = fixed_probe_losses(probes, feats)
    table = control_effects_table(
        errors_from_losses(losses), comparisons, roles, p.level, unscored, losses, p.resamples, p.seed
    )
    write_table(table, out.table)
    log.info("\n%s", table.to_string(index=False))
    write_table(pd.concat(balances.values(), ignore_index=True) if balances else pd.DataFrame(), out.balance)
    log.info("CPU time %.1f s for %d variants", time.process_time() - start, len(masks))
