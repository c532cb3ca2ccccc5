"""Gather the synthesized speakers: check audio, split train/test, collect reference TextGrids."""

from speechneurons.corpus.manifest import write_corpus_tables
from speechneurons.corpus.synth import gather_synth
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, out = snakemake.params, snakemake.output
    manifest, skipped, speakers = gather_synth(
        list(snakemake.input.tables),
        list(snakemake.input.references),
        out.reference,
        p.sample_rate,
        p.on_bad_input,
        p.test_fraction,
        p.speaker_disjoint,
        p.seed,
        p.min_samples,
    )
    write_corpus_tables(manifest, skipped, speakers, out.manifest, out.skipped, out.speakers)
    log.info("%d utterances kept, %d skipped", len(manifest), len(skipped))
