"""The jobs of the align stage: one function per script (``scripts/align_<job>.py`` runs
``align.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

from speechneurons.align.alignment import (
    align_rows,
    gather_shards,
    pocketsphinx_align_fn,
    reference_align_fn,
    shard_rows,
)
from speechneurons.align.frame_labels import build_frame_labels
from speechneurons.align.mfa import collect_output, prepare_corpus
from speechneurons.align.precomputed import extra_textgrids, textgrids_align_fn
from speechneurons.align.quality import alignment_quality
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import read_table, write_table

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def frame_labels(inp, out, p) -> None:
    """Frame labels (utt_id, frame, phone, word, is_mid) on the model frame grid from the TextGrids."""
    manifest = read_manifest(inp.manifest)
    report = read_table(inp.report, dtype={"utt_id": str})
    failed = report.loc[report.status == "failed", "utt_id"]
    table, summary = build_frame_labels(
        manifest,
        inp.textgrids,
        FrameGrid.from_config(p.frames),
        failed,
        p.on_bad_input,
    )
    write_table(table, out.labels)
    write_table(summary, out.utterances)
    log.info(
        "%d frames (%d middle frames) of %d utterances; %d speech segments own no frame",
        len(table),
        int(table.is_mid.sum()),
        table.utt_id.nunique(),
        int(summary["n_speech_segments_without_frame"].fillna(0).sum()),
    )


def gather(inp, out, p) -> None:
    """Merge the alignment shards: TextGrids, report.tsv and failed.tsv (fails loudly above the threshold)."""
    manifest = read_manifest(inp.manifest)
    extra = extra_textgrids(p.textgrids_root, manifest) if p.aligner == "textgrids" else []
    report = gather_shards(
        list(inp.shards),
        manifest,
        out.textgrids,
        out.report,
        out.failed,
        p.on_bad_input,
        p.max_failed_share,
        extra,
        f"a TextGrid under {p.textgrids_root} of no utterance of the corpus",
    )
    n_ok, n_utts = int((report.status == "aligned").sum()), int((report.status != "extra").sum())
    log.info(
        "aligned %d of %d utterances (%.1f %%), %d failed, %d extra",
        n_ok,
        n_utts,
        100 * n_ok / max(n_utts, 1),
        int((report.status == "failed").sum()),
        len(extra),
    )


def mfa_collect(inp, out, p) -> None:
    """Collect MFA's TextGrids into the shard layout the gather job reads."""
    manifest = read_manifest(inp.manifest)
    report = collect_output(manifest, inp.alignments, out.shard)
    log.info("MFA aligned %d of %d utterances", (report.status == "aligned").sum(), len(report))


def mfa_prepare(inp, out, p) -> None:
    """Write the MFA corpus folder (<speaker>/<utt>.wav links and .lab transcripts)."""
    manifest = read_manifest(inp.manifest)
    prepare_corpus(manifest, out.corpus)
    log.info("MFA corpus of %d utterances in %s", len(manifest), out.corpus)


def quality(inp, out, p) -> None:
    """Alignment quality against the synthesizer's timings: quality.tsv and its figure."""
    from speechneurons.align.figures import plot_quality

    manifest = read_manifest(inp.manifest)
    report = read_table(inp.report, dtype={"utt_id": str})
    aligned = report.loc[report.status == "aligned", "utt_id"]
    table, errors = alignment_quality(manifest, inp.textgrids, inp.reference, aligned)
    write_table(table.round(4), out.table)
    plot_quality(table, errors, out.png, f"{p.aligner} vs. synthesizer timings")
    log.info("quality (all voices):\n%s", table.iloc[-1].to_string())


def shard(inp, out, p) -> None:
    """Align one shard of the manifest (pocketsphinx, reference or precomputed-TextGrids backend)."""
    aligner, shard = p.aligner, int(p.shard)
    # read_manifest: an empty transcript stays '' (read_table would give NaN, aligned as the word 'nan')
    rows = shard_rows(read_manifest(inp.manifest), shard, p.shards)
    if aligner == "pocketsphinx":
        ps = p.pocketsphinx
        align_fn = pocketsphinx_align_fn(
            ps["beams"], p.sample_rate, ps["edge_silence_s"], ps["fit_min_score"], ps["fit_max_quiet_share"]
        )
    elif aligner == "textgrids":
        align_fn = textgrids_align_fn(p.textgrids_root)
    else:
        align_fn = reference_align_fn(inp.reference)
    report = align_rows(rows, align_fn, out.shard, p.on_bad_input)
    log.info(
        "%s shard %d: %d of %d aligned (the time is in the job's benchmark)",
        aligner,
        shard,
        (report.status == "aligned").sum(),
        len(report),
    )
