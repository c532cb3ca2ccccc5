"""Manifest of a local LibriSpeech directory (read in place, nothing downloaded)."""

import logging

from speechneurons.corpus.manifest import write_corpus_tables
from speechneurons.corpus.librispeech import scan_librispeech
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # noqa: F821 (injected by Snakemake)

with script_logging(snakemake.log[0]):
    log = logging.getLogger("speechneurons.corpus")
    p = snakemake.params
    log.info("reading LibriSpeech %s, splits %s", p.root, p.splits)
    manifest, skipped, speakers = scan_librispeech(
        p.root, p.splits, p.utterances_per_speaker, p.speakers, p.sample_rate, p.on_bad_input,
        p.test_fraction, p.speaker_disjoint, p.seed,
    )
    write_corpus_tables(
        manifest, skipped, speakers, snakemake.output.manifest, snakemake.output.skipped, snakemake.output.speakers
    )
