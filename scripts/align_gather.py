"""Merge the alignment shards: TextGrids, report.tsv and failed.tsv (fails loudly above the threshold)."""

from speechneurons.align.alignment import gather_shards
from speechneurons.align.precomputed import extra_textgrids
from speechneurons.corpus.manifest import read_manifest
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    manifest = read_manifest(snakemake.input.manifest)
    o, p = snakemake.output, snakemake.params
    extra = extra_textgrids(p.textgrids_root, manifest) if snakemake.wildcards.aligner == "textgrids" else []
    report = gather_shards(
        list(snakemake.input.shards),
        manifest,
        o.textgrids,
        o.report,
        o.failed,
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
