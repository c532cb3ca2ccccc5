"""One forward pass of a model over the selected utterances -> per-layer float16 FFN activations."""

import torch

from speechneurons.activations.dump import bound_heap, dump_activations
from speechneurons.activations.selection import SUBSETS
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, relative_to, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.model.registry import check_frame_grid, load_model

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    torch.manual_seed(p.seed)
    bound_heap()
    torch.set_num_threads(max(1, snakemake.threads))
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
    arrays = {(layer, subset): path for subset in SUBSETS for layer, path in zip(p.layers, snakemake.output[subset])}
    report = dump_activations(
        loaded,
        read_manifest(snakemake.input.manifest),
        read_table(snakemake.input.selection),
        arrays,
        batch_seconds=p.batch_seconds,
        max_pad_ratio=p.max_pad_ratio,
        on_bad_input=p.on_bad_input,
    )
    write_table(report.skipped, snakemake.output.skipped)
    write_json(
        snakemake.output.stats,
        {
            "model": relative_to(p.model_ref, snakemake.config["results_dir"]),  # a folder of results
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
