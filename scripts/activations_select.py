"""Frames to dump: every speech middle frame and a seeded sample of all frames -> selection.parquet."""

from speechneurons.activations.selection import select_frames
from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_table, write_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    labels = read_table(snakemake.input.labels, columns=["utt_id", "frame", "phone", "is_mid"])
    manifest = read_manifest(snakemake.input.manifest)
    selection = select_frames(labels, manifest, snakemake.params.sample_frames, snakemake.params.seed)
    log.info("selected rows per subset: %s", selection["subset"].value_counts().to_dict())
    write_table(selection, snakemake.output.selection)
