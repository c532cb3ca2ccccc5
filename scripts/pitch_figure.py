"""Figure: F0 distributions per gender and per speaker with the pitch-group cut points."""

from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_json, read_table
from speechneurons.logs import script_logging
from speechneurons.pitch.figures import plot_f0_distributions

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]):
    frames = read_table(snakemake.input.frames, columns=["utt_id", "f0_hz", "voiced"])
    manifest = read_manifest(snakemake.input.manifest)
    info = read_json(snakemake.input.bins)
    plot_f0_distributions(frames, manifest, info, snakemake.output.png, title=snakemake.params.title)
