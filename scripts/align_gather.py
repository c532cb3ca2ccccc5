"""Merge the alignment shards: TextGrids, report.tsv and failed.tsv (fails loudly above the threshold)."""

from speechneurons.align.alignment import gather_shards
from speechneurons.corpus.manifest import read_manifest
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    manifest = read_manifest(snakemake.input.manifest)
    o, p = snakemake.output, snakemake.params
    report = gather_shards(
        list(snakemake.input.shards), manifest, o.textgrids, o.report, o.failed, p.on_bad_input, p.max_failed_share
    )
    n_ok = int((report.status == "aligned").sum())
    log.info(
        "aligned %d of %d utterances (%.1f %%)",
        n_ok,
        len(report),
        100 * n_ok / max(len(report), 1),
    )
