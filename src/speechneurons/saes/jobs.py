"""The jobs of the saes stage: one function per script (``scripts/saes_<job>.py`` runs
``saes.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.activated import control_rates
from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.device import resolve_device
from speechneurons.frames import FrameGrid
from speechneurons.io import drop_timings, load_array, read_json, read_table, write_json, write_table
from speechneurons.model.targets import targets_from_table
from speechneurons.properties.nulls import NullSettings, null_sets
from speechneurons.properties.statistic import PropertySettings, frame_labels
from speechneurons.properties.tables import load_dump, write_layer
from speechneurons.saes.settings import SaeSettings

# torch, the SAEs, the model, scipy and matplotlib are imported in the jobs that use them: a job
# process pays only for its own imports (issue 28).

log = logging.getLogger(__name__)

#: bytes from which the SAE job's allocations are mmap-ed (:func:`speechneurons.activations.dump.bound_heap`)
SAE_MMAP_THRESHOLD = 8 * 2**20


def layer(inp, out, p, threads: int = 1) -> None:
    """SAEs of one layer and architecture: train every budget on the train rows of the `sample`
    frames, evaluate on held-out rows, and run the property statistic on the latents (at k) of
    the `mid` frames, with the permutation chance level of the properties stage."""
    import torch

    from speechneurons.activations.dump import bound_heap
    from speechneurons.saes.evaluation import save_evaluations
    from speechneurons.saes.properties import base_rate, latent_properties
    from speechneurons.saes.stage import split_rows, train_budgets

    torch.set_num_threads(max(1, threads))
    # the middle frames' chunk buffers (tens of MB) go back to the system, so the peak stays flat
    # in the frames; the threshold sits above the training step's tensors (a few MB at most),
    # which at the 128 KB default were each mmap-ed and zeroed anew: 30 of 74 CPU-s of a job
    bound_heap(SAE_MMAP_THRESHOLD)
    settings = settings_from(SaeSettings, p.settings, architecture=p.arch)
    device = resolve_device(p.device)
    sample = load_array(inp.sample, mmap_mode="r")
    train, held, groups = split_rows(read_table(inp.index_sample), p.max_eval_rows, inp.index_sample)
    log.info(
        "layer %s, %s: %d train and %d held-out rows x %d, budgets %s, on %s",
        p.layer,
        p.arch,
        len(train),
        len(held),
        sample.shape[1],
        p.ks,
        device,
    )
    x_train = np.asarray(sample[train])
    saes, evaluations, train_log = train_budgets(
        x_train, np.asarray(sample[held]), groups, settings, p.ks, device, p.seed
    )
    main = saes[p.ks[0]]
    main.save(out.sae)
    Path(out.sweep).mkdir(parents=True, exist_ok=True)
    if p.sweep:  # the sweep's other SAEs, kept with keep_intermediates (else p.sweep is empty)
        for k, path in zip(p.ks[1:], p.sweep, strict=True):
            saes[k].save(path)
    save_evaluations(out.sums, evaluations, held_rows=held)
    write_table(drop_timings(train_log), out.train_log)

    props = settings_from(PropertySettings, p.properties)
    mid, index_mid = load_dump(inp.mid, inp.index_mid)
    labels = frame_labels(index_mid, p.n_pitch_bins, p.on_bad_input, inp.index_mid, props.splits)
    lp, top = latent_properties(main, mid, labels, int(p.layer), props, p.n_pitch_bins)
    write_layer(lp, neurons=out.latents, P=out.P, R=out.R, counts=out.counts, skipped=out.skipped)
    rate = base_rate(top)
    log.info(
        "property latents (tau = %d of F = %d; mean activation rate %.4g against the threshold %.4g): %s",
        lp.tau,
        lp.D,
        rate,
        lp.tau / lp.D,
        {k: len(v) for k, v in lp.property_neurons.items()},
    )
    # the properties stage's nulls, with its draws (same seed): one property at a time
    null = null_sets(
        top,
        labels,
        index_mid["utt_id"].to_numpy(),
        index_mid["speaker"].to_numpy(),
        lp.property_neurons,
        props.sigma,
        props.min_count,
        p.n_pitch_bins,
        settings_from(NullSettings, p.nulls),
        p.seed,
        props.selection,
        props.fdr_q,
    )
    write_table(null.groups, out.null)
    rows = [dict(ev.summary(), layer=int(p.layer)) for ev in evaluations.values()]
    table = pd.DataFrame(rows).assign(stat_tau=np.nan, stat_base_rate=np.nan)
    table.loc[table["k"] == p.ks[0], ["stat_tau", "stat_base_rate"]] = [lp.tau, rate]
    write_table(table, out.evaluation)


def masked_prediction(inp, out, p, threads: int = 1) -> None:
    """Masked-prediction accuracy and loss on held-out utterances of the pretrained model with its
    head, as it is and with each SAE spliced into its layer (speechneurons.saes.downstream)."""
    import torch

    from speechneurons.model.hubert import load_checkpoint
    from speechneurons.model.pretrain import align_targets, heldout_corpus
    from speechneurons.saes.downstream import (
        masked_prediction_losses,
        masked_prediction_table,
        splice_edit,
        variant_name,
    )
    from speechneurons.saes.sae import SparseAutoencoder

    torch.set_num_threads(threads)
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
    log.info(
        "%d held-out utterances of splits %s (%d without targets), %d variants",
        len(waves),
        held,
        skipped,
        len(variants),
    )
    losses = masked_prediction_losses(model, head, waves, targets, grid, p.mask_prob, p.mask_length, p.seed, variants)
    table = masked_prediction_table(losses, p.resamples, p.seed, p.level)
    log.info("\n%s", table.to_string(index=False))
    write_table(table, out.table)


def probes(inp, out, p, threads: int = 1) -> None:
    """Probe scores of the model with each SAE spliced into its layer, and with property latents
    and property neurons erased against their random controls (speechneurons.saes.downstream)."""
    import torch

    from speechneurons.model.registry import load_model
    from speechneurons.probing.features import extract_features
    from speechneurons.probing.probes import ProbeSettings, resolve_layers, run_probes
    from speechneurons.saes.downstream import erasure_table, evenly_spread, probe_variants, splice_table, with_balance
    from speechneurons.saes.sae import SparseAutoencoder

    torch.set_num_threads(threads)
    settings = settings_from(ProbeSettings, p.probes, seed=p.seed)
    best = read_json(inp.best)
    roles = resolve_layers(p.probe_layers, best["num_layers"], best["best"], settings.tasks)
    loaded = load_model(p.model_ref, p.device)
    keys = [(layer, arch) for layer in p.splice_layers for arch in p.architectures]  # the order of inp.saes
    saes = {key: SparseAutoencoder.load(path, loaded.device) for key, path in zip(keys, inp.saes, strict=True)}
    erasure_keys = [(layer, arch) for layer in p.splice_layers for arch in p.erasure_architectures]
    latents = {key: read_json(path) for key, path in zip(erasure_keys, inp.latents, strict=True)}
    neurons = {layer: read_json(path) for layer, path in zip(p.splice_layers, inp.neurons, strict=True)}
    # the rates each erasure's random controls are matched on (experiments.erasure_control_rate)
    how = p.erasure_control_rate
    latent_rates = {
        name: {key: control_rates(path, name, how) for key, path in zip(erasure_keys, inp.latent_P, strict=True)}
        for name in p.erasures
    }
    neuron_rates = {
        name: {layer: control_rates(path, name, how) for layer, path in zip(p.splice_layers, inp.neuron_P, strict=True)}
        for name in p.erasures
    }
    variants, sets, balance = probe_variants(
        saes,
        latents,
        latent_rates,
        neurons,
        neuron_rates,
        p.erasures,
        p.erasure_architectures,
        p.match_neighbours,
        p.seed,
        balance_ks=p.balance_ks,
    )
    manifest = evenly_spread(read_manifest(inp.manifest), p.probe_utterances)
    layers = sorted({layer for by_layer in roles.values() for layer in by_layer})
    log.info("%d variants on %d utterances, probed at layers %s", len(variants), len(manifest), layers)
    batching = p.batching
    features = extract_features(
        loaded,
        manifest,
        read_table(inp.frames),
        layers,
        variants,
        batch_seconds=batching["batch_seconds"],
        max_pad_ratio=batching["max_pad_ratio"],
        on_bad_input=p.on_bad_input,
    )
    losses = {v.name: run_probes(features[v.name], roles, settings) for v in variants}
    write_table(pd.concat([df.assign(variant=name) for name, df in losses.items()], ignore_index=True), out.losses)
    sizes = {name: int(sum(len(idx) for idx in by_layer.values())) for name, by_layer in sets.items()}
    write_json(
        out.variants,
        {
            "variants": [v.name for v in variants],
            "erased": {
                name: {str(layer): [int(j) for j in idx] for layer, idx in by_layer.items()}
                for name, by_layer in sets.items()
            },
            "n_erased": sizes,
        },
    )
    splice = splice_table(losses, roles, p.resamples, p.seed, p.level)
    erasure = with_balance(erasure_table(losses, sizes, roles, p.resamples, p.seed, p.level), balance, f"{how} rate")
    log.info("splicing:\n%s\nerasure:\n%s", splice.to_string(index=False), erasure.to_string(index=False))
    write_table(splice, out.splice)
    write_table(erasure, out.erasure)


def summary(inp, out, p) -> None:
    """Tables and figures of the SAE study: every SAE with intervals, the paper's two claims,
    SAE latents against neurons as carriers of properties (each count with its chance level and
    the cost of erasing them), and the figures."""
    from speechneurons.saes.evaluation import load_evaluations, load_held_rows
    from speechneurons.saes.plots import (
        plot_dead_share,
        plot_density_rank,
        plot_fvu_vs_l0,
        plot_l0_by_frame,
        plot_l0_distributions,
        plot_units,
    )
    from speechneurons.saes.tables import (
        add_convergence,
        claims_table,
        evaluation_table,
        features_vs_neurons,
        r_max_table,
        splice_columns,
        units_table,
    )

    keys = [(int(layer), arch) for layer, arch, _ in p.sae_keys]  # the order of the per-SAE inputs
    evaluations, base_rates, held = {}, {}, {}
    for (layer, arch), tsv, npz in zip(keys, inp.evaluations, inp.sums, strict=True):
        table = read_table(tsv)
        evs, _ = load_evaluations(npz, table)
        evaluations |= {(layer, arch, k): ev for k, ev in evs.items()}
        base_rates[layer, arch] = float(table.loc[table["k"] == p.k, "stat_base_rate"].iloc[0])
        rows = load_held_rows(npz)
        if rows is not None and layer in held and not np.array_equal(rows, held[layer]):
            raise ValueError(f"layer {layer}: the SAEs were evaluated on different held-out rows ({npz})")
        held.setdefault(layer, rows)
    evaluation = evaluation_table(evaluations, p.resamples, p.seed, p.level)
    evaluation = splice_columns(evaluation, read_table(inp.splice), read_table(inp.masked) if inp.masked else None, p.k)
    claims = claims_table(evaluations, p.k, p.resamples, p.seed, p.level)
    claims, by_frame = _adaptive(evaluations, held, claims, inp, p)
    claims = add_convergence(claims, {key: read_table(path) for key, path in zip(keys, inp.train_logs, strict=True)})
    log.info("SAEs:\n%s\nclaims:\n%s", evaluation.to_string(index=False), claims.to_string(index=False))
    write_table(evaluation, out.evaluation)
    write_table(claims, out.claims)

    # units: latents (from the SAE jobs) and neurons (properties stage), each with its permutation null
    layers = sorted({layer for layer, _ in keys})
    docs = {key: read_json(path) for key, path in zip(keys, inp.latents, strict=True)}
    nulls = {key: read_table(path) for key, path in zip(keys, inp.nulls, strict=True)}
    for layer, neurons, null in zip(layers, inp.neurons, inp.neuron_nulls, strict=True):
        docs[layer, "neurons"] = read_json(neurons)
        nulls[layer, "neurons"] = read_table(null)
        base_rates[layer, "neurons"] = docs[layer, "neurons"]["tau"] / docs[layer, "neurons"]["D"]
    units = units_table(docs, nulls, base_rates)
    fvn = features_vs_neurons(units, read_table(inp.erasure), p.erasures, p.splice_layers)
    log.info(
        "units:\n%s\nfeatures against neurons:\n%s",
        units[units.group == ""].to_string(index=False),
        fvn.to_string(index=False),
    )
    write_table(units, out.units)
    write_table(fvn, out.features_vs_neurons)

    # figures
    main = {layer: {arch: evaluations[layer, arch, p.k] for l2, arch in keys if l2 == layer} for layer in layers}
    plot_fvu_vs_l0(evaluation, out.fvu_vs_l0, title=p.title)
    plot_dead_share(evaluation[evaluation.k == p.k], out.dead_share, title=p.title)
    plot_density_rank(main, out.density_rank, title=p.title)
    plot_l0_distributions(main, out.l0_distributions, title=p.title)
    write_table(by_frame, out.l0_by_frame)
    plot_l0_by_frame(by_frame, out.l0_by_frame_figure, p.frame_ms, p.level, title=p.title, k=p.k)
    r_files = dict(zip(keys, inp.R, strict=True))
    r_files |= {(layer, "neurons"): path for layer, path in zip(layers, inp.neuron_R, strict=True)}
    r_max = r_max_table({key: read_table(path) for key, path in r_files.items()})
    plot_units(units[units.group == ""], r_max, p.sigma, out.units_figure, title=p.title)
    log.info(
        "neurons and latents with max R_g >= sigma: %s",
        r_max.assign(passes=r_max.R_max >= p.sigma).groupby(["units", "property"]).passes.mean().to_dict(),
    )


def _adaptive(evaluations, held, claims: pd.DataFrame, inp, p) -> tuple[pd.DataFrame, pd.DataFrame]:
    """claims.tsv with the Zipf and adaptive-computation rows added, and the L0-by-frame table
    (speechneurons.saes.adaptive): per layer, the held-out tokens with their frame class and
    distance to a phone boundary."""
    from speechneurons.saes.adaptive import adaptive_claims, l0_by_frame, token_frames
    from speechneurons.saes.tables import ADAPTIVE, zipf_claims

    index = read_table(inp.index_sample)
    labels = read_table(inp.labels)
    tokens = {layer: token_frames(index, rows, labels) for layer, rows in held.items() if rows is not None}
    adaptive = adaptive_claims(evaluations, tokens, p.k, ADAPTIVE, p.resamples, p.resamples, p.seed, p.level)
    parts = []
    for layer, tok in sorted(tokens.items()):
        l0 = {
            a: evaluations[layer, a, p.k].token_l0
            for a in ADAPTIVE
            if (layer, a, p.k) in evaluations and evaluations[layer, a, p.k].token_l0 is not None
        }
        if l0:
            parts.append(l0_by_frame(tok, l0, p.resamples, p.seed, p.level).assign(layer=layer))
    by_frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["layer", "architecture"])
    by_frame = by_frame[["layer"] + [c for c in by_frame if c != "layer"]]
    log.info("adaptive computation:\n%s", adaptive.to_string(index=False) if len(adaptive) else "(no per-token arrays)")
    claims = pd.concat([claims, zipf_claims(evaluations, p.k, p.level), adaptive], ignore_index=True)
    return claims, by_frame
