"""The corpus manifest shared by every source: validation, skip-and-count, splits, tables.

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
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

from speechneurons.audio import audio_info, check_audio_info, load_audio
from speechneurons.errors import BadInputError, BadInputErrors
from speechneurons.io import read_table, write_table

log = logging.getLogger(__name__)

MANIFEST_COLUMNS = ["utt_id", "audio_path", "speaker", "gender", "duration_s", "sample_rate", "transcript", "split"]
SKIPPED_COLUMNS = ["utt_id", "path", "reason"]
GENDERS = ("F", "M")
SPLITS = ("train", "test")

T = TypeVar("T")


# --------------------------------------------------------------------------- bad input


class SkipCounter:
    """Collects bad inputs. With on_bad_input='skip' they become rows of skipped.tsv; with
    'error' they are collected too, and :meth:`raise_errors` (which :meth:`table` calls) raises
    them all at once, so that one run lists every problem the stage can see."""

    def __init__(self, on_bad_input: str = "error"):
        if on_bad_input not in ("error", "skip"):
            raise ValueError(f"on_bad_input must be 'error' or 'skip', not {on_bad_input!r}")
        self.on_bad_input = on_bad_input
        self.rows: list[dict] = []
        self.errors: list[BadInputError] = []

    def handle(self, err: BadInputError, utt_id: str | None = None) -> None:
        """Record ``err``: a skipped row (skip mode) or an error raised later (error mode)."""
        if self.on_bad_input == "error":
            if utt_id and not err.utt_id:
                err.utt_id = utt_id
            self.errors.append(err)
            return
        uid = utt_id or err.utt_id or ""
        log.warning("skipping %s: %s", uid or err.path, err)
        self.rows.append({"utt_id": uid, "path": err.path, "reason": f"{err.problem}. {err.fix}"})

    def call(self, utt_id: str | None, fn: Callable[..., T], *args) -> T | None:
        """``fn(*args)``; on BadInputError record it for ``utt_id`` (or raise it) and return None."""
        try:
            return fn(*args)
        except BadInputError as err:
            self.handle(err, utt_id)
            return None

    def raise_errors(self) -> None:
        """Error mode: raise every collected error at once (one alone as itself)."""
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise BadInputErrors(self.errors)

    def table(self) -> pd.DataFrame:
        """skipped.tsv (raises the collected errors first in error mode)."""
        self.raise_errors()
        return pd.DataFrame(self.rows, columns=SKIPPED_COLUMNS)


def check_utterance_audio(path: str | Path, sample_rate: int, utt_id: str | None = None, min_samples: int = 0) -> float:
    """Check one audio file: its header (exists, readable, non-empty, mono, rate), then every
    sample (a file whose header is intact but whose data is corrupt fails here, not later in
    pitch or alignment), and at least ``min_samples`` samples (one model frame: a shorter file
    has no frame for any later stage). Returns duration_s."""
    try:
        info = audio_info(path)
        check_audio_info(path, info, sample_rate)
        n = len(load_audio(path, sample_rate))
        if n < min_samples:
            raise BadInputError(
                path,
                f"audio is {n} samples ({1000 * n / sample_rate:.1f} ms) long, shorter than one model frame "
                f"({min_samples} samples, {1000 * min_samples / sample_rate:.0f} ms)",
                "Remove the file from the corpus (or set on_bad_input: skip)",
            )
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
        raise BadInputError(
            path, f"manifest lacks column(s) {', '.join(missing)}", "Re-create it with the corpus stage."
        )
    if df["utt_id"].duplicated().any():
        dup = df.loc[df["utt_id"].duplicated(), "utt_id"].iloc[0]
        raise BadInputError(path, f"duplicate utt_id {dup}", "Re-create it with the corpus stage.")
    bad = set(df["gender"]) - set(GENDERS)
    if bad:
        raise BadInputError(path, f"gender values {sorted(bad)} are not F/M", "Fix the speaker metadata.")
    bad = set(df["split"]) - set(SPLITS)
    if bad:
        raise BadInputError(
            path, f"split values {sorted(bad)} are not train/test", "Re-create it with the corpus stage."
        )
    return df


def relative_paths(paths: pd.Series, folder: str | Path) -> pd.Series:
    """Audio paths as written in a table of ``folder``: relative to it when the file lies under
    it (audio the workflow made: the same bytes whatever the results folder is called),
    absolute otherwise (a corpus folder of the user's)."""
    root = os.path.abspath(folder)

    def rel(p: str) -> str:
        a = os.path.abspath(p)
        return os.path.relpath(a, root) if a.startswith(root + os.sep) else a

    return paths.astype(str).map(rel)


def resolved_paths(paths: pd.Series, folder: str | Path) -> pd.Series:
    """Inverse of :func:`relative_paths`: relative paths joined to ``folder``, which holds the
    table they were read from."""
    return paths.astype(str).map(lambda p: p if os.path.isabs(p) else os.path.join(str(folder), p))


def read_manifest(path: str | Path) -> pd.DataFrame:
    """Read and check ``manifest.tsv`` (for later stages); ids and speakers as strings, audio
    paths usable from the working directory (they are stored relative to the manifest's folder
    when the audio lies under it)."""
    df = read_table(path, dtype={"utt_id": str, "speaker": str, "transcript": str, "audio_path": str})
    validate_manifest(df, path)
    df["transcript"] = df["transcript"].fillna("")
    df["audio_path"] = resolved_paths(df["audio_path"], Path(path).parent)
    return df


def write_corpus_tables(
    manifest: pd.DataFrame,
    skipped: pd.DataFrame,
    speakers: pd.DataFrame,
    manifest_path: str | Path,
    skipped_path: str | Path,
    speakers_path: str | Path,
) -> None:
    """Write the three tables atomically (skipped.tsv with its header even when empty) and log
    what the corpus holds."""
    validate_manifest(manifest)
    manifest = manifest[MANIFEST_COLUMNS].assign(
        audio_path=relative_paths(manifest["audio_path"], Path(manifest_path).parent)
    )
    write_table(manifest, manifest_path)
    skipped = skipped.reindex(columns=SKIPPED_COLUMNS)
    if len(skipped):
        skipped["path"] = relative_paths(skipped["path"], Path(manifest_path).parent)
    write_table(skipped, skipped_path)
    write_table(speakers, speakers_path)
    log.info(
        "%d utterances, %.1f min, %d speakers (%s), %d skipped",
        len(manifest),
        manifest["duration_s"].sum() / 60,
        manifest["speaker"].nunique(),
        manifest.groupby("gender")["speaker"].nunique().to_dict(),
        len(skipped),
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
