"""The corpus manifest: building (synth and LibriSpeech), validation, skip-and-count, splits.

Every source produces the same three tables:

- ``manifest.tsv``: ``utt_id, audio_path, speaker, gender, duration_s, sample_rate,
  transcript, split`` (gender F/M, split train/test), one row per usable utterance;
- ``skipped.tsv``: ``utt_id, path, reason`` for inputs left out with ``on_bad_input: skip``;
- ``speakers.tsv``: ``speaker, gender, ...`` one row per speaker.

Splits (seeded): by utterance, each speaker's utterances are shuffled with a generator seeded
by (seed, crc32(speaker)) and the first round(f * n) go to test (clamped to [1, n-1] when
n >= 2), so every speaker is in both splits; speaker-disjoint, each gender's speakers are
shuffled the same way and round(f * n_g) whole speakers (clamped to [1, n_g - 1]) go to
test, so both genders are in both splits.
"""

from __future__ import annotations

import logging
import shutil
import zlib
from pathlib import Path
from typing import Callable, Iterable, Sequence, TypeVar

import numpy as np
import pandas as pd

from speechneurons.audio import audio_info, check_audio_info, write_wav
from speechneurons.errors import BadInputError
from speechneurons.io import atomic_dir, read_table, write_table

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["utt_id", "audio_path", "speaker", "gender", "duration_s", "sample_rate", "transcript", "split"]
SKIPPED_COLUMNS = ["utt_id", "path", "reason"]
GENDERS = ("F", "M")
SPLITS = ("train", "test")

T = TypeVar("T")


# --------------------------------------------------------------------------- bad input


class SkipCounter:
    """Collects skipped inputs; with on_bad_input='error' re-raises instead."""

    def __init__(self, on_bad_input: str = "error"):
        if on_bad_input not in ("error", "skip"):
            raise ValueError(f"on_bad_input must be 'error' or 'skip', not {on_bad_input!r}")
        self.on_bad_input = on_bad_input
        self.rows: list[dict] = []

    def handle(self, err: BadInputError, utt_id: str | None = None) -> None:
        """Record ``err`` (skip mode) or raise it (error mode)."""
        if self.on_bad_input == "error":
            raise err
        uid = utt_id or err.utt_id or ""
        log.warning("skipping %s: %s", uid or err.path, err)
        self.rows.append({"utt_id": uid, "path": err.path, "reason": f"{err.problem}. {err.fix}"})

    def call(self, fn: Callable[[], T], utt_id: str | None = None) -> T | None:
        """Run ``fn``; on BadInputError record/raise and return None."""
        try:
            return fn()
        except BadInputError as err:
            self.handle(err, utt_id)
            return None

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows, columns=SKIPPED_COLUMNS)


def check_utterance_audio(path: str | Path, sample_rate: int, utt_id: str | None = None) -> float:
    """Header-check one audio file (exists, readable, non-empty, mono, rate); return duration_s."""
    try:
        info = audio_info(path)
        check_audio_info(path, info, sample_rate)
    except BadInputError as err:
        err.utt_id = utt_id
        raise
    return info.duration_s


# --------------------------------------------------------------------------- splits


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), zlib.crc32(key.encode("utf-8"))])


def _n_test(n: int, fraction: float) -> int:
    if n < 2:
        return 0
    return int(min(max(round(fraction * n), 1), n - 1))


def assign_splits(df: pd.DataFrame, test_fraction: float, speaker_disjoint: bool, seed: int) -> pd.Series:
    """train/test per row of ``df`` (columns utt_id, speaker, gender); seeded and order-free."""
    split = pd.Series("train", index=df.index, dtype=object)
    if speaker_disjoint:
        for gender, group in df.groupby("gender", sort=True):
            speakers = sorted(group["speaker"].unique())
            if len(speakers) < 2:
                log.warning("gender %s has %d speaker(s): all in train (speaker-disjoint split)", gender, len(speakers))
            perm = _rng(seed, f"gender:{gender}").permutation(len(speakers))
            test = {speakers[i] for i in perm[: _n_test(len(speakers), test_fraction)]}
            split[group.index[group["speaker"].isin(test)]] = "test"
    else:
        for speaker, group in df.groupby("speaker", sort=True):
            ids = group.sort_values("utt_id").index
            perm = _rng(seed, f"speaker:{speaker}").permutation(len(ids))
            split[ids[perm[: _n_test(len(ids), test_fraction)]]] = "test"
    return split


# --------------------------------------------------------------------------- manifest


def finish_manifest(df: pd.DataFrame, test_fraction: float, speaker_disjoint: bool, seed: int) -> pd.DataFrame:
    """Sort by utt_id, add the split column, order columns as the contract says."""
    df = df.sort_values("utt_id").reset_index(drop=True)
    df["split"] = assign_splits(df, test_fraction, speaker_disjoint, seed) if len(df) else pd.Series(dtype=object)
    df["duration_s"] = df["duration_s"].astype(float).round(6)
    df["sample_rate"] = df["sample_rate"].astype(int)
    return df[MANIFEST_COLUMNS]


def validate_manifest(df: pd.DataFrame, path: str | Path = "manifest") -> pd.DataFrame:
    """Check the manifest contract (columns, unique ids, F/M, train/test); return df."""
    missing = [c for c in MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise BadInputError(path, f"manifest lacks column(s) {', '.join(missing)}", "Re-create it with the corpus stage.")
    if df["utt_id"].duplicated().any():
        dup = df.loc[df["utt_id"].duplicated(), "utt_id"].iloc[0]
        raise BadInputError(path, f"duplicate utt_id {dup}", "Re-create it with the corpus stage.")
    bad = set(df["gender"]) - set(GENDERS)
    if bad:
        raise BadInputError(path, f"gender values {sorted(bad)} are not F/M", "Fix the speaker metadata.")
    bad = set(df["split"]) - set(SPLITS)
    if bad:
        raise BadInputError(path, f"split values {sorted(bad)} are not train/test", "Re-create it with the corpus stage.")
    return df


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and check ``manifest.tsv`` (for later stages); ids and speakers as strings."""
    df = read_table(path, dtype={"utt_id": str, "speaker": str, "transcript": str, "audio_path": str})
    validate_manifest(df, path)
    df["transcript"] = df["transcript"].fillna("")
    return df


def write_corpus_tables(
    manifest: pd.DataFrame, skipped: pd.DataFrame, speakers: pd.DataFrame, manifest_path: str | Path,
    skipped_path: str | Path, speakers_path: str | Path,
) -> None:
    """Write the three tables atomically (skipped.tsv with its header even when empty) and log
    what the corpus holds."""
    validate_manifest(manifest)
    write_table(manifest[MANIFEST_COLUMNS], manifest_path)
    write_table(skipped.reindex(columns=SKIPPED_COLUMNS), skipped_path)
    write_table(speakers, speakers_path)
    log.info(
        "%d utterances, %.1f min, %d speakers (%s), %d skipped",
        len(manifest), manifest["duration_s"].sum() / 60, manifest["speaker"].nunique(),
        manifest.groupby("gender")["speaker"].nunique().to_dict(), len(skipped),
    )


def speaker_summary(manifest: pd.DataFrame) -> pd.DataFrame:
    """Per speaker: n_utterances, duration_s, n_train, n_test."""
    g = manifest.groupby("speaker", sort=True)
    return pd.DataFrame(
        {
            "n_utterances": g.size(),
            "duration_s": g["duration_s"].sum().round(3),
            "n_train": g["split"].apply(lambda s: int((s == "train").sum())),
            "n_test": g["split"].apply(lambda s: int((s == "test").sum())),
        }
    ).reset_index()


# --------------------------------------------------------------------------- synth


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
    """Synthesize one speaker: wavs in audio_dir, TextGrids in reference_dir, a table of rows.

    Sentences come from a generator seeded with (seed, crc32(speaker)), so a speaker's text
    does not depend on which other speakers are synthesized. The table has the manifest
    columns except split, plus f0_median_hz (per utterance) and speaker_f0_median_hz (median
    over all the speaker's voiced 10 ms frames; Praat autocorrelation, 60-500 Hz).
    """
    from speechneurons.corpus.sentences import generate_sentences
    from speechneurons.corpus.synthesizers import f0_track, phones_for_textgrid, synthesize
    from speechneurons.align.textgrid import write_alignment_textgrid
    from speechneurons.corpus.voices import select_voices

    voice = select_voices([speaker])[0]
    sentences = generate_sentences(n_utterances, [int(seed), zlib.crc32(speaker.encode())], tuple(words_per_sentence))
    utts = synthesize(sentences, voice, sample_rate)
    rows, pooled = [], []
    with atomic_dir(audio_dir) as adir, atomic_dir(reference_dir) as rdir:
        for i, (words, utt) in enumerate(zip(sentences, utts)):
            uid = synth_utt_id(speaker, i)
            write_wav(Path(adir) / f"{uid}.wav", utt.audio, sample_rate)
            write_alignment_textgrid(Path(rdir) / f"{uid}.TextGrid", utt.duration_s, utt.words, phones_for_textgrid(utt.phones))
            track = f0_track(utt.audio, sample_rate)
            pooled.append(track)
            f0 = float(np.median(track)) if len(track) else float("nan")
            rows.append(
                {
                    "utt_id": uid, "audio_path": str(Path(audio_dir) / f"{uid}.wav"), "speaker": speaker,
                    "gender": voice.gender, "duration_s": round(utt.duration_s, 6), "sample_rate": sample_rate,
                    "transcript": " ".join(words).upper(), "f0_median_hz": round(f0, 2),
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
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check every synthesized wav, assign splits, copy the kept TextGrids into one folder.

    Returns (manifest, skipped, speakers); speakers.tsv joins the voice table with the
    per-speaker duration and the median F0 over the speaker's voiced frames.
    """
    from speechneurons.corpus.voices import select_voices, voice_table

    skips = SkipCounter(on_bad_input)
    parts = [read_table(t, dtype={"utt_id": str, "speaker": str}) for t in tables]
    rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=MANIFEST_COLUMNS[:-1])
    keep = []
    for row in rows.itertuples(index=False):
        d = skips.call(lambda: check_utterance_audio(row.audio_path, sample_rate, row.utt_id), row.utt_id)
        keep.append(d is not None)
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


# --------------------------------------------------------------------------- figure


def plot_minutes_per_speaker(manifest: pd.DataFrame, path: str | Path) -> None:
    """Bar chart of minutes of audio per speaker, coloured by gender (PNG, atomic)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speechneurons.io import atomic_path

    per = manifest.groupby(["speaker", "gender"], sort=True)["duration_s"].sum().div(60).reset_index()
    per = per.sort_values(["gender", "speaker"])
    colours = {"F": "tab:red", "M": "tab:blue"}
    fig, ax = plt.subplots(figsize=(max(4.0, 0.35 * len(per) + 2), 3.5))
    ax.bar(range(len(per)), per["duration_s"], color=[colours[g] for g in per["gender"]])
    ax.set_xticks(range(len(per)))
    ax.set_xticklabels(per["speaker"], rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("minutes")
    total = manifest["duration_s"].sum() / 60
    counts = manifest.groupby("gender")["speaker"].nunique().to_dict()
    ax.set_title(
        f"{total:.1f} min, {len(manifest)} utterances; speakers F={counts.get('F', 0)} M={counts.get('M', 0)}",
        fontsize=9,
    )
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=c, label=g) for g, c in colours.items()], fontsize=8, loc="lower right", framealpha=0.9)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def first_n_per_key(items: Iterable[T], key: Callable[[T], str], n: int) -> list[T]:
    """Keep at most n items per key (0 = all), in the given order."""
    if n <= 0:
        return list(items)
    counts: dict[str, int] = {}
    out = []
    for it in items:
        k = key(it)
        if counts.get(k, 0) < n:
            counts[k] = counts.get(k, 0) + 1
            out.append(it)
    return out
