"""The embedded default corpus: one job per speaker synthesizes and times its utterances, then
a gather job checks every audio file, assigns the splits and collects the reference TextGrids.

The synthesizers themselves (flite, festival, Praat's "Change gender") are in
:mod:`speechneurons.corpus.synthesizers`; the voice table in :mod:`speechneurons.corpus.voices`.
"""

from __future__ import annotations

import logging
import os
import shutil
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.audio import write_flac
from speechneurons.corpus.manifest import (
    MANIFEST_COLUMNS,
    SkipCounter,
    check_utterance_audio,
    finish_manifest,
    resolved_paths,
    speaker_summary,
)
from speechneurons.io import atomic_dir, read_table, write_table

log = logging.getLogger(__name__)

AUDIO_SUFFIX = ".flac"
"""The synthesized audio is stored as 16-bit FLAC: lossless for its 16-bit samples, about 40 %
fewer bytes than WAV on this corpus (issue 28's disk budget). libsndfile rounds float to 16 bits
differently for FLAC than for WAV: half the samples differ by one step (about -90 dB) from the
WAV files of earlier versions, enough to change the alignment and the trained model."""


def synth_utt_id(speaker: str, index: int) -> str:
    return f"{speaker}-{index:04d}"


def build_synth_speaker(
    speaker: str,
    n_utterances: int,
    seed: int,
    words_per_sentence: Sequence[int],
    audio_dir: str | Path,
    reference_dir: str | Path,
    table_path: str | Path,
    sample_rate: int = 16000,
) -> pd.DataFrame:
    """Synthesize one speaker: 16-bit FLAC files in audio_dir (AUDIO_SUFFIX), TextGrids in
    reference_dir, a table of rows.

    Sentences come from a generator seeded with (seed, crc32(speaker)), so a speaker's text
    does not depend on which other speakers are synthesized. The table has the manifest
    columns except split, plus f0_median_hz (per utterance) and speaker_f0_median_hz (median
    over all the speaker's voiced 10 ms frames; Praat autocorrelation, 60-500 Hz).
    """
    from speechneurons.align.textgrid import write_alignment_textgrid
    from speechneurons.corpus.sentences import generate_sentences
    from speechneurons.corpus.synthesizers import f0_track, phones_for_textgrid, synthesize
    from speechneurons.corpus.voices import select_voices

    voice = select_voices([speaker])[0]
    sentences = generate_sentences(n_utterances, [int(seed), zlib.crc32(speaker.encode())], tuple(words_per_sentence))
    utts = synthesize(sentences, voice, sample_rate)
    rows, pooled = [], []
    with atomic_dir(audio_dir) as adir, atomic_dir(reference_dir) as rdir:
        for i, (words, utt) in enumerate(zip(sentences, utts)):
            uid = synth_utt_id(speaker, i)
            write_flac(Path(adir) / f"{uid}{AUDIO_SUFFIX}", utt.audio, sample_rate)
            write_alignment_textgrid(
                Path(rdir) / f"{uid}.TextGrid", utt.duration_s, utt.words, phones_for_textgrid(utt.phones)
            )
            track = f0_track(utt.audio, sample_rate)
            pooled.append(track)
            f0 = float(np.median(track)) if len(track) else float("nan")
            rows.append(
                {
                    "utt_id": uid,
                    # relative to the table's folder: the same bytes whatever the results folder
                    "audio_path": os.path.relpath(Path(audio_dir) / f"{uid}{AUDIO_SUFFIX}", Path(table_path).parent),
                    "speaker": speaker,
                    "gender": voice.gender,
                    "duration_s": round(utt.duration_s, 6),
                    "sample_rate": sample_rate,
                    "transcript": " ".join(words).upper(),
                    "f0_median_hz": round(f0, 2),
                }
            )
            log.info("%s: %.2f s, median F0 %.1f Hz", uid, utt.duration_s, f0)
    table = pd.DataFrame(rows)
    allf0 = np.concatenate(pooled) if pooled else np.zeros(0)
    table["speaker_f0_median_hz"] = round(float(np.median(allf0)), 1) if len(allf0) else float("nan")
    write_table(table, table_path)
    return table


def gather_synth(
    tables: Sequence[str | Path],
    reference_dirs: Sequence[str | Path],
    out_reference_dir: str | Path,
    sample_rate: int,
    on_bad_input: str,
    test_fraction: float,
    speaker_disjoint: bool,
    seed: int,
    min_samples: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check every synthesized audio file (every sample, and at least ``min_samples``: one model
    frame), assign splits, copy the kept TextGrids into one folder.

    Returns (manifest, skipped, speakers); speakers.tsv joins the voice table with the
    per-speaker duration and the median F0 over the speaker's voiced frames.
    """
    from speechneurons.corpus.voices import select_voices, voice_table

    skips = SkipCounter(on_bad_input)
    parts = [read_table(t, dtype={"utt_id": str, "speaker": str, "audio_path": str}) for t in tables]
    parts = [p.assign(audio_path=resolved_paths(p["audio_path"], Path(t).parent)) for p, t in zip(parts, tables)]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MANIFEST_COLUMNS[:-1])
    keep = []
    for row in rows.itertuples(index=False):
        d = skips.call(row.utt_id, check_utterance_audio, row.audio_path, sample_rate, row.utt_id, min_samples)
        keep.append(d is not None)
    skips.raise_errors()
    kept = rows[np.array(keep, dtype=bool)] if len(rows) else rows
    manifest = finish_manifest(kept.copy(), test_fraction, speaker_disjoint, seed)
    kept_ids = set(manifest["utt_id"])
    with atomic_dir(out_reference_dir) as rdir:
        for ref in reference_dirs:
            for tg in sorted(Path(ref).glob("*.TextGrid")):
                if tg.stem in kept_ids:
                    shutil.copyfile(tg, Path(rdir) / tg.name)
    speakers = sorted(rows["speaker"].unique()) if len(rows) else []
    vt = voice_table(select_voices(speakers)) if speakers else voice_table([])
    f0 = (
        rows.groupby("speaker", sort=True)["speaker_f0_median_hz"].first().rename("f0_median_hz").reset_index()
        if len(rows)
        else pd.DataFrame(columns=["speaker", "f0_median_hz"])
    )
    speakers_df = vt.merge(speaker_summary(manifest), on="speaker", how="left").merge(f0, on="speaker", how="left")
    return manifest, skips.table(), speakers_df
