"""Write the MFA corpus folder (<speaker>/<utt>.wav links and .lab transcripts)."""

from speechneurons.align.mfa import prepare_corpus
from speechneurons.corpus.manifest import read_manifest
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    manifest = read_manifest(snakemake.input.manifest)
    prepare_corpus(manifest, snakemake.output[0])
    log.info("MFA corpus of %d utterances in %s", len(manifest), snakemake.output[0])
