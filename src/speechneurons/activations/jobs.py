"""The jobs of the activations stage: one function per script (``scripts/activations_<job>.py`` runs
``activations.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

from speechneurons.activations.index import build_index, write_index
from speechneurons.activations.selection import SUBSETS, select_frames
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, relative_to, write_json, write_table

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def dump(inp, out, p, threads: int = 1) -> None:
    """One forward pass of a model over the selected utterances -> per-layer float16 FFN activations
    of the subsets among its outputs (``mid``, ``sample``); the middle-frame pass also writes
    skipped.tsv and dump.json."""
    import torch

    from speechneurons.activations.dump import bound_heap, dump_activations
    from speechneurons.model.registry import check_frame_grid, load_model

    torch.manual_seed(p.seed)
    bound_heap()
    torch.set_num_threads(max(1, threads))
    loaded = load_model(p.model_ref, device=p.device, random_weights=p.random_weights, seed=p.seed)
    log.info(
        "model %s (%s): %d layers, FFN widths %s, do_normalize=%s, device %s",
        p.model_ref,
        loaded.model_type,
        loaded.num_layers,
        loaded.ffn_widths,
        loaded.do_normalize,
        loaded.device,
    )
    check_frame_grid(loaded, FrameGrid.from_config(p.frames))
    subsets = [subset for subset in SUBSETS if getattr(out, subset, None) is not None]
    arrays = {(layer, subset): path for subset in subsets for layer, path in zip(p.layers, out[subset], strict=True)}
    report = dump_activations(
        loaded,
        read_manifest(inp.manifest),
        read_table(inp.selection),
        arrays,
        batch_seconds=p.batch_seconds,
        max_pad_ratio=p.max_pad_ratio,
        on_bad_input=p.on_bad_input,
    )
    if getattr(out, "stats", None) is None:  # the sample pass: the middle-frame pass reports the dump
        return
    write_table(report.skipped, out.skipped)
    write_json(
        out.stats,
        {
            "model": relative_to(p.model_ref, p.results_dir),  # a folder of results
            "layers": p.layers,
            "ffn_widths": loaded.ffn_widths,
            "device": str(loaded.device),
            "utterances": report.n_utterances,
            "skipped": len(report.skipped),
            "rows": report.rows,
            "audio_seconds": round(report.audio_seconds, 2),
            # wall_seconds and audio_seconds_per_second: in the job's log (results hold no timings)
        },
    )


def index(inp, out, p) -> None:
    """Index tables row-aligned with the dumped arrays: labels, pitch and speakers of each row."""
    index = build_index(
        read_table(inp.selection),
        read_table(inp.labels, columns=["utt_id", "frame", "phone", "is_mid"]),
        read_table(inp.pitch, columns=["utt_id", "frame", "f0_hz", "pitch_bin"]),
        read_manifest(inp.manifest),
    )
    write_index(index, {"mid": out.mid, "sample": out.sample})
    log.info("index rows per subset: %s", {subset: len(table) for subset, table in index.items()})


def select(inp, out, p) -> None:
    """Frames to dump: every speech middle frame and a seeded sample of all frames -> selection.parquet."""
    labels = read_table(inp.labels, columns=["utt_id", "frame", "phone", "is_mid"])
    manifest = read_manifest(inp.manifest)
    selection = select_frames(labels, manifest, p.sample_frames, p.seed)
    log.info("selected rows per subset: %s", selection["subset"].value_counts().to_dict())
    write_table(selection, out.selection)
