"""Synthesize one speaker of the embedded corpus: wavs, reference TextGrids, a part table."""

from speechneurons.corpus.synth import build_synth_speaker
from speechneurons.logs import script_logging

snakemake = globals()["snakemake"]  # injected by Snakemake

with script_logging(snakemake.log[0]) as log:
    p, speaker = snakemake.params, snakemake.wildcards.speaker
    log.info("synthesizing %d utterances of %s (seed %d)", p.utterances_per_speaker, speaker, p.seed)
    table = build_synth_speaker(
        speaker,
        p.utterances_per_speaker,
        p.seed,
        p.words_per_sentence,
        snakemake.output.audio,
        snakemake.output.reference,
        snakemake.output.table,
        p.sample_rate,
    )
    log.info(
        "%s: %d utterances, %.1f s, median F0 %.1f Hz",
        speaker,
        len(table),
        table["duration_s"].sum(),
        table["speaker_f0_median_hz"].iloc[0],
    )
