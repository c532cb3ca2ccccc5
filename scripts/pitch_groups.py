"""Pitch groups: cut the F0 of voiced frames into equal-count bins -> pitch_frames.parquet, pitch_bins.json."""

from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_table, write_json, write_table
from speechneurons.logs import script_logging
from speechneurons.pitch.groups import pitch_groups

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    manifest = read_manifest(snakemake.input.manifest)
    gender_of = dict(zip(manifest["utt_id"], manifest["gender"]))
    frames, info = pitch_groups(
        read_table(snakemake.input.f0), p.n_bins, p.binning, gender_of, source=snakemake.input.f0
    )
    log.info("cut points (Hz): %s; counts: %s", info["cut_points_hz"], info["counts"])
    write_table(frames, snakemake.output.frames)
    write_json(snakemake.output.bins, info)
