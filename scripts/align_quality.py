"""Alignment quality against the synthesizer's timings: quality.tsv and its figure."""

from speechneurons.align.figures import plot_quality
from speechneurons.align.quality import alignment_quality
from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    manifest = read_manifest(snakemake.input.manifest)
    report = read_table(snakemake.input.report, dtype={"utt_id": str})
    aligned = report.loc[report.status == "aligned", "utt_id"]
    table, errors = alignment_quality(manifest, snakemake.input.textgrids, snakemake.input.reference, aligned)
    write_table(table.round(4), snakemake.output.table)
    plot_quality(table, errors, snakemake.output.png, f"{snakemake.wildcards.aligner} vs. synthesizer timings")
    log.info("quality (all voices):\n%s", table.iloc[-1].to_string())
