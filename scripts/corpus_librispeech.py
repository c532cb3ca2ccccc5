"""Manifest of a local LibriSpeech directory (read in place, nothing downloaded)."""

from speechneurons.corpus.librispeech import scan_librispeech
from speechneurons.corpus.manifest import write_corpus_tables
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, out = snakemake.params, snakemake.output
    log.info("reading LibriSpeech %s, splits %s", p.root, p.splits)
    manifest, skipped, speakers = scan_librispeech(
        p.root,
        p.splits,
        p.utterances_per_speaker,
        p.speakers,
        p.sample_rate,
        p.on_bad_input,
        p.test_fraction,
        p.speaker_disjoint,
        p.seed,
        p.min_samples,
    )
    write_corpus_tables(manifest, skipped, speakers, out.manifest, out.skipped, out.speakers)
