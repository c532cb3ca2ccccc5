"""The jobs of the corpus stage: one function per script (``scripts/corpus_<job>.py`` runs
``corpus.jobs.<job>``). A job takes the rule's ``input``, ``output`` and ``params`` (Snakemake's
named lists, or any object with those attributes, e.g. a SimpleNamespace in a test), reads
its inputs, calls the library and writes its outputs."""

import logging

from speechneurons.corpus.librispeech import scan_librispeech
from speechneurons.corpus.manifest import read_manifest, write_corpus_tables
from speechneurons.corpus.synth import build_synth_speaker, gather_synth

# Heavy imports (torch, the model, matplotlib, ...) live in the jobs that use them: a job process
# pays only for its own, and most jobs are small (issue 28).

log = logging.getLogger(__name__)


def figure(inp, out, p) -> None:
    """Minutes of audio per speaker, coloured by gender."""
    from speechneurons.corpus.figures import plot_minutes_per_speaker

    plot_minutes_per_speaker(read_manifest(inp.manifest), out.png)


def librispeech(inp, out, p) -> None:
    """Manifest of a local LibriSpeech directory (read in place, nothing downloaded)."""
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


def synth_gather(inp, out, p) -> None:
    """Gather the synthesized speakers: check audio, split train/test, collect reference TextGrids."""
    manifest, skipped, speakers = gather_synth(
        list(inp.tables),
        list(inp.references),
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


def synth_speaker(inp, out, p) -> None:
    """Synthesize one speaker of the embedded corpus: wavs, reference TextGrids, a part table."""
    speaker = p.speaker
    log.info("synthesizing %d utterances of %s (seed %d)", p.utterances_per_speaker, speaker, p.seed)
    table = build_synth_speaker(
        speaker,
        p.utterances_per_speaker,
        p.seed,
        p.words_per_sentence,
        out.audio,
        out.reference,
        out.table,
        p.sample_rate,
    )
    log.info(
        "%s: %d utterances, %.1f s, median F0 %.1f Hz",
        speaker,
        len(table),
        table["duration_s"].sum(),
        table["speaker_f0_median_hz"].iloc[0],
    )
