"""Collect MFA's TextGrids into the shard layout the gather job reads."""

from speechneurons.align.mfa import collect_output
from speechneurons.corpus.manifest import read_manifest
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    manifest = read_manifest(snakemake.input.manifest)
    report = collect_output(manifest, snakemake.input.alignments, snakemake.output[0])
    log.info("MFA aligned %d of %d utterances", (report.status == "aligned").sum(), len(report))
