"""Index tables row-aligned with the dumped arrays: labels, pitch and speakers of each row."""

from speechneurons.activations.index import build_index, write_index
from speechneurons.corpus.manifest import read_manifest
from speechneurons.io import read_table
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    index = build_index(
        read_table(snakemake.input.selection),
        read_table(snakemake.input.labels, columns=["utt_id", "frame", "phone", "is_mid"]),
        read_table(snakemake.input.pitch, columns=["utt_id", "frame", "f0_hz", "pitch_bin"]),
        read_manifest(snakemake.input.manifest),
    )
    write_index(index, {"mid": snakemake.output.mid, "sample": snakemake.output.sample})
    log.info("index rows per subset: %s", {subset: len(table) for subset, table in index.items()})
