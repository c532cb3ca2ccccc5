"""The jobs of the dissection stage: one function per script (``scripts/dissection_<job>.py`` runs
``dissection.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

import numpy as np
import pandas as pd

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.dissection.describe import phone_items, read_items, utterance_items, write_items
from speechneurons.dissection.settings import (
    BrowserSettings,
    DissectionSettings,
    ItemSettings,
    LLMSettings,
    PruningSettings,
)
from speechneurons.dissection.tables import browser_neurons, summary_table
from speechneurons.frames import FrameGrid
from speechneurons.io import load_rows, read_json, read_table, write_json, write_table
from speechneurons.properties.statistic import tau_from_fraction

# Each job imports the heavy parts it needs (torch, the model, the probes, scipy, matplotlib) in
# its own body: a job process pays only its own imports, and most jobs here are small.

log = logging.getLogger(__name__)


def layer_lines(summary: pd.DataFrame, agreement: pd.DataFrame) -> dict:
    """{layer: {kind: one line}}: the uninterpretable share against chance and the phone-type agreement."""
    out = {}
    for r in summary.itertuples(index=False):
        line = (
            f"Layer {r.layer}: {100 * r.uninterpretable_share:.1f}% of {r.n_neurons} neurons uninterpretable "
            f"(shuffled attributes: {100 * r.chance_share:.1f}%)."
        )
        a = agreement[
            (agreement["layer"] == r.layer)
            & (agreement["kind"] == r.kind)
            & (agreement["n"] > 0)
            & (agreement["measure"] == "within")
        ]
        a = a[a["split"] == ("held_out" if (a["split"] == "held_out").any() else "selected")]
        for g in a.itertuples(index=False):
            line += (
                f" {g.property} neurons: {100 * g.observed:.0f}% own group on {g.split.replace('_', '-')} "
                f"items (shuffled {100 * g.null_mean:.0f}%, n={g.n})."
            )
        out.setdefault(int(r.layer), {})[r.kind] = line
    return out


def browser(inp, out, p) -> None:
    """The neuron browser: an HTML page of neuron cards (description, top concepts, top and bottom
    items with playable snippets) for the most interpretable and the property neurons of each layer."""
    from speechneurons.dissection.browser import write_browser

    settings = settings_from(BrowserSettings, p.settings)
    neurons = pd.concat([read_table(path) for path in inp.neurons], ignore_index=True)
    chosen = browser_neurons(neurons, settings.n_neurons, settings.property_neurons)
    shared = pd.concat([read_table(path) for path in inp.shared], ignore_index=True)
    shared = shared.merge(chosen[["layer", "kind", "neuron"]], on=["layer", "kind", "neuron"])
    items = pd.concat(
        [
            read_items(inp.phone_table, inp.phone_meta).table.assign(kind="phone"),
            read_items(inp.utterance_table, inp.utterance_meta).table.assign(kind="utterance"),
        ],
        ignore_index=True,
    )
    manifest = read_manifest(inp.manifest)
    stats = layer_lines(read_table(inp.summary), read_table(inp.agreement))
    info = write_browser(
        out.browser,
        chosen,
        shared,
        items,
        dict(zip(manifest["utt_id"], manifest["audio_path"])),
        settings,
        p.title,
        stats=stats,
    )
    log.info("%d cards of %d neurons; %s", len(chosen), len(neurons), info)


def figures(inp, out, p) -> None:
    """Figures of the dissection: uninterpretable share per layer, agreement with property neurons."""
    from speechneurons.dissection.figures import plot_agreement, plot_uninterpretable

    title = p.title
    plot_uninterpretable(
        read_table(inp.summary), out.uninterpretable, f"{title}: neurons whose top items share no attribute"
    )
    plot_agreement(read_table(inp.agreement), out.agreement, f"{title}: top concept against the property-neuron group")


def items(inp, out, p) -> None:
    """The items of a dump with their attributes and captions: one per phone segment (a row of the
    mid dump) and one per utterance, measured from the labels and the audio."""
    settings = settings_from(ItemSettings, p.settings)
    index, manifest = read_table(inp.index), read_manifest(inp.manifest)
    audio = dict(zip(manifest["utt_id"], manifest["audio_path"]))
    phones = phone_items(
        index,
        read_table(inp.labels),
        audio,
        FrameGrid.from_config(p.frames),
        settings.n_bins,
        p.n_pitch_bins,
        read_table(inp.pitch),
    )
    utterances = utterance_items(list(pd.unique(phones.table["utt_id"])), manifest, phones, settings.n_bins)
    write_items(phones, out.phone_table, out.phone_meta)
    write_items(utterances, out.utterance_table, out.utterance_meta)
    log.info("%d phone items, %d utterance items; bin edges %s", len(phones.table), len(utterances.table), phones.edges)


def layer(inp, out, p, threads: int = 1) -> None:
    """Dissection of one layer: each neuron's top and bottom items, top concepts, open-concept
    summary and description (on the selecting split), and their agreement with the property neurons."""
    from threadpoolctl import threadpool_limits

    from speechneurons.activations.dump import bound_heap
    from speechneurons.dissection.dissect import dissect_dump_layer, write_layer
    from speechneurons.dissection.llm import LLMWriter
    from speechneurons.dissection.scoring import property_truth

    threadpool_limits(threads)  # threads beyond the job's own only slow BLAS down here
    bound_heap()  # the row blocks' buffers go back to the system: the peak stays flat in the items
    layer = int(p.layer)
    settings = settings_from(DissectionSettings, p.settings)
    llm = LLMWriter(settings_from(LLMSettings, p.llm), p.llm_cache) if settings.writer == "llm" else None
    acts = load_rows(inp.mid)  # read in row blocks, never the whole layer (docs/scaling.md)
    phones = read_items(inp.phone_table, inp.phone_meta)
    utterances = read_items(inp.utterance_table, inp.utterance_meta)
    truth = property_truth(read_json(inp.neurons), p.n_pitch_bins)
    tau = tau_from_fraction(p.tau_fraction, acts.shape[1])
    tables = dissect_dump_layer(acts, phones, utterances, truth, settings, layer, tau, p.level, llm)
    write_layer(tables, **{k: out[k] for k in ("neurons", "shared", "similarity", "agreement", "summary")})
    for kind, s in tables.summary["kinds"].items():
        log.info(
            "%s items: %.1f%% uninterpretable (shuffled %.1f%%)",
            kind,
            100 * s["uninterpretable_share"],
            100 * (s["uninterpretable_null_mean"] or np.nan),
        )


def pruning(inp, out, p, threads: int = 1) -> None:
    """Concept-specific pruning: zero each concept's tagged neurons (and a matched random control)
    in every dissected layer, and score the drop of the probes' own-class logits on test utterances."""
    import torch

    from speechneurons.activated import control_rates
    from speechneurons.dissection.pruning import concept_group, concept_sets, family_concepts, run_pruning
    from speechneurons.model.registry import load_model
    from speechneurons.probing.features import FrameSettings
    from speechneurons.probing.probes import ProbeSettings

    torch.set_num_threads(threads)
    settings = settings_from(PruningSettings, p.settings, seed=p.seed, resamples=p.resamples, level=p.level,
                             match_neighbours=p.match_neighbours, balance_ks=p.balance_ks)  # fmt: skip
    tables = [read_table(path) for path in inp.neurons]
    neurons = pd.concat(tables, ignore_index=True)
    # the rates each concept's control is matched on (experiments.erasure_control_rate): on the
    # concept's own frames (the property statistic's P.npz of each dissected layer) or overall
    concept_rates = None
    if p.control_rate != "overall":
        layers = [int(t["layer"].iloc[0]) for t in tables]  # the order of inp.P
        concept_rates = {
            c: {
                layer: control_rates(path, "-".join(concept_group(c, p.n_pitch_bins)), p.control_rate)
                for layer, path in zip(layers, inp.P, strict=True)
            }
            for family in settings.families
            for c in family_concepts(family, p.n_pitch_bins)
        }
    sets = concept_sets(neurons, settings, p.n_pitch_bins, concept_rates)
    for s in sets:
        log.info(
            "%s (%s items): %s tagged per layer",
            s["concept"],
            s["kind"],
            {layer: len(v) for layer, v in s["tagged"].items()} or "none",
        )
    batching = p.batching
    table = run_pruning(
        load_model(p.model_ref, p.device, random_weights=p.random_weights, seed=p.probe_seed),
        read_manifest(inp.manifest),
        read_table(inp.labels),
        read_table(inp.pitch),
        sets,
        settings,
        settings_from(ProbeSettings, p.probe, seed=p.probe_seed),
        settings_from(FrameSettings, p.frame_settings, seed=p.probe_seed),
        p.n_pitch_bins,
        batch_seconds=batching["batch_seconds"],
        max_pad_ratio=batching["max_pad_ratio"],
        on_bad_input=p.on_bad_input,
    )
    log.info("\n%s", table.drop(columns=["tagged_per_layer"]).round(3).to_string(index=False))
    write_table(table, out.table)
    write_json(out.sets, {"sets": sets})


def pruning_figure(inp, out, p) -> None:
    """Figure of pruning.tsv: dA and dR per pruned concept against the random control."""
    from speechneurons.dissection.figures import plot_pruning

    plot_pruning(read_table(inp.table), out.figure, f"{p.title}: concept-specific pruning")


def summary(inp, out, p) -> None:
    """The dissected layers together: uninterpretable share per layer and kind with its chance
    level (summary.tsv), and the agreement with property neurons of every layer (agreement.tsv)."""
    summary = summary_table([read_json(path) for path in inp.summaries])
    agreement = pd.concat([read_table(path) for path in inp.agreements], ignore_index=True)
    log.info("\n%s", summary.to_string(index=False))
    write_table(summary, out.summary)
    write_table(agreement, out.agreement)
