"""F0 of every manifest utterance with Praat, on the model frame grid -> f0.parquet (+ skipped.tsv)."""

import logging

from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import write_table
from speechneurons.logs import script_logging
from speechneurons.pitch.f0 import extract_corpus

snakemake = globals()["snakemake"]  # noqa: F821 (injected by Snakemake)

with script_logging(snakemake.log[0]):
    log = logging.getLogger("speechneurons.pitch")
    grid = FrameGrid.from_config(snakemake.params.frames)
    manifest = read_manifest(snakemake.input.manifest)
    log.info("F0 of %d utterances, settings %s", len(manifest), snakemake.params.settings)
    table, skipped = extract_corpus(manifest, grid, snakemake.params.settings, snakemake.params.on_bad_input)
    log.info(
        "%d frames, %d voiced (%.1f%%), %d utterances skipped",
        len(table), int(table["voiced"].sum()), 100 * table["voiced"].mean() if len(table) else 0.0, len(skipped),
    )
    write_table(table, snakemake.output.f0)
    write_table(skipped, snakemake.output.skipped)
