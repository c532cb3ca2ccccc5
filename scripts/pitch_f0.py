"""F0 of every manifest utterance with Praat, on the model frame grid -> f0.parquet (+ skipped.tsv)."""

from speechneurons.config import settings_from
from speechneurons.corpus.manifest import read_manifest
from speechneurons.frames import FrameGrid
from speechneurons.io import write_table
from speechneurons.logs import script_logging
from speechneurons.pitch.f0 import PitchSettings, extract_corpus

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p = snakemake.params
    grid, settings = FrameGrid.from_config(p.frames), settings_from(PitchSettings, p.settings)
    manifest = read_manifest(snakemake.input.manifest)
    log.info("F0 of %d utterances, settings %s", len(manifest), settings)
    table, skipped = extract_corpus(manifest, grid, settings, p.on_bad_input)
    log.info(
        "%d frames, %d voiced (%.1f%%), %d utterances skipped",
        len(table),
        int(table["voiced"].sum()),
        100 * table["voiced"].mean() if len(table) else 0.0,
        len(skipped),
    )
    write_table(table, snakemake.output.f0)
    write_table(skipped, snakemake.output.skipped)
