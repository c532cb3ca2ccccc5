"""A local LibriSpeech directory as a corpus (read in place; nothing is downloaded).

Layout: ``<root>/SPEAKERS.TXT`` and ``<root>/<split>/<speaker>/<chapter>/`` holding
``<speaker>-<chapter>-<nnnn>.flac`` and ``<speaker>-<chapter>.trans.txt`` (lines
``<utt_id> <TRANSCRIPT>``). Gender comes from SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES |
NAME``). A missing root, split folder or SPEAKERS.TXT, an empty or repeated split list and an
empty corpus are always errors; per-utterance problems (unreadable, corrupt or too short
audio, a missing, empty or repeated transcript line, audio missing for a transcript line, an
unknown speaker, the same utterance in two split folders) follow ``on_bad_input``, and in
error mode all of them are reported at once (docs/bad-input.md).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from speechneurons.corpus.manifest import (
    MANIFEST_COLUMNS,
    SkipCounter,
    check_utterance_audio,
    finish_manifest,
    speaker_summary,
)
from speechneurons.errors import BadInputError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeakerInfo:
    speaker: str
    gender: str
    subset: str
    minutes: float | None
    name: str


def read_speakers_txt(path: str | Path) -> dict[str, SpeakerInfo]:
    """Parse SPEAKERS.TXT (';' comments; 'ID | SEX | SUBSET | MINUTES | NAME')."""
    path = Path(path)
    if not path.exists():
        raise BadInputError(
            path,
            "SPEAKERS.TXT does not exist",
            "Point corpus.librispeech.root at the LibriSpeech folder that holds SPEAKERS.TXT and the split folders.",
        )
    out: dict[str, SpeakerInfo] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        parts = [p.strip() for p in line.split("|")]
        if len(parts) < 3:
            raise BadInputError(
                path, f"line {lineno} is not 'ID | SEX | SUBSET | MINUTES | NAME'", "Restore the original SPEAKERS.TXT."
            )
        sex = parts[1].upper()
        if sex not in ("F", "M"):
            raise BadInputError(
                path, f"line {lineno}: sex {parts[1]!r} is not F or M", "Restore the original SPEAKERS.TXT."
            )
        try:
            minutes = float(parts[3]) if len(parts) > 3 and parts[3] else None
        except ValueError:
            minutes = None
        name = "|".join(parts[4:]) if len(parts) > 4 else ""
        out[parts[0]] = SpeakerInfo(parts[0], sex, parts[2], minutes, name)
    return out


@dataclass
class Transcripts:
    """One ``<speaker>-<chapter>.trans.txt``: the text of each utterance id, and the ids whose
    lines cannot be trusted (an empty text, or the id on two lines) with the error to report."""

    texts: dict[str, str]
    problems: dict[str, BadInputError]


def read_transcripts(path: Path) -> Transcripts:
    """``<speaker>-<chapter>.trans.txt`` -> its Transcripts (empty if the file is missing).

    A line with an id and no words is a problem of that utterance (never the word 'nan'); an id
    on two lines is a problem of that utterance (which line is right cannot be known)."""
    texts: dict[str, str] = {}
    problems: dict[str, BadInputError] = {}
    if not path.exists():
        return Transcripts(texts, problems)
    first_line: dict[str, int] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        uid, _, text = line.strip().partition(" ")
        text = text.strip()
        if uid in first_line:
            problems[uid] = BadInputError(
                path,
                f"utterance {uid} has two transcript lines (lines {first_line[uid]} and {lineno})",
                "Keep the line that matches the audio and delete the other (or set on_bad_input: skip)",
                utt_id=uid,
            )
            continue
        first_line[uid] = lineno
        texts[uid] = text
        if not text:
            problems[uid] = BadInputError(
                path,
                f"line {lineno} gives utterance {uid} no transcript (the line holds the id only)",
                f"Write the words spoken in {uid} after its id, or remove the line and the audio "
                "(or set on_bad_input: skip)",
                utt_id=uid,
            )
    return Transcripts(texts, problems)


def librispeech_listing(root: str | Path, splits: Sequence[str], speakers: Sequence[str] = ()) -> str:
    """What the corpus stage reads from a LibriSpeech folder, as TSV text (``path, size,
    mtime_ns`` of SPEAKERS.TXT and of every file under the split folders, or under the chosen
    speakers' folders), sorted. The workflow keeps it as an input of the corpus rule, rewritten
    only when it changes, so that replacing, adding or removing audio or transcripts reruns the
    corpus stage and what depends on it, and nothing else. Missing folders are left out (the
    corpus stage reports them)."""
    root = Path(root)
    wanted = {str(s) for s in speakers}
    files = [root / "SPEAKERS.TXT"]
    for split in splits:
        split_dir = root / split
        if not split_dir.is_dir():
            continue
        tops = [split_dir / s for s in sorted(wanted)] if wanted else [split_dir]
        for top in tops:
            if top.is_dir():
                files += [p for p in top.rglob("*") if p.is_file()]
    lines = ["path\tsize\tmtime_ns"]
    for f in sorted(set(files)):
        try:
            st = f.stat()
        except OSError:
            continue
        lines.append(f"{f.relative_to(root).as_posix()}\t{st.st_size}\t{st.st_mtime_ns}")
    return "\n".join(lines) + "\n"


def scan_librispeech(
    root: str | Path,
    splits: Sequence[str],
    utterances_per_speaker: int = 0,
    speakers: Sequence[str] = (),
    sample_rate: int = 16000,
    on_bad_input: str = "error",
    test_fraction: float = 0.25,
    speaker_disjoint: bool = False,
    seed: int = 0,
    min_samples: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Build (manifest, skipped, speakers) from a local LibriSpeech directory.

    Utterances are visited in sorted order per speaker; with utterances_per_speaker = N > 0
    the first N usable ones are kept. Audio paths are absolute (the audio is read in place).
    Every sample of every file is decoded, and a file shorter than ``min_samples`` (one model
    frame) is bad input. With on_bad_input 'error', every problem found is raised at once.
    A corpus with no usable utterance is always an error.
    """
    if not str(root):
        raise BadInputError(
            "corpus.librispeech.root",
            "no LibriSpeech folder is configured",
            "Set corpus.librispeech.root in your config file.",
        )
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(
            root,
            "LibriSpeech folder does not exist",
            "Set corpus.librispeech.root to a local LibriSpeech folder (nothing is downloaded at run time).",
        )
    if not splits:
        raise BadInputError(
            "corpus.librispeech.splits",
            "no split folder is configured (the list is empty), so the corpus would have no utterance",
            "List the split folders to read, e.g. corpus.librispeech.splits: [dev-clean].",
        )
    twice = sorted({s for s in splits if list(splits).count(s) > 1})
    if twice:
        raise BadInputError(
            "corpus.librispeech.splits",
            f"split folder(s) {', '.join(twice)} listed more than once (every utterance would be read twice)",
            "List each split folder once.",
        )
    info = read_speakers_txt(root / "SPEAKERS.TXT")
    wanted = {str(s) for s in speakers}
    skips = SkipCounter(on_bad_input)
    rows: list[dict] = []
    seen: dict[str, Path] = {}  # utt_id -> the file that gave it first (another split folder)
    present_speakers: set[str] = set()
    for split in splits:
        split_dir = root / split
        if not split_dir.is_dir():
            present = sorted(p.name for p in root.iterdir() if p.is_dir())
            raise BadInputError(
                split_dir,
                "split folder does not exist",
                f"Fix corpus.librispeech.splits (folders present: {', '.join(present) or 'none'}).",
            )
        for spk_dir in sorted((p for p in split_dir.iterdir() if p.is_dir()), key=lambda p: p.name):
            speaker = spk_dir.name
            present_speakers.add(speaker)
            if wanted and speaker not in wanted:
                continue
            kept = 0
            for chapter_dir in sorted((p for p in spk_dir.iterdir() if p.is_dir()), key=lambda p: p.name):
                trans_path = chapter_dir / f"{speaker}-{chapter_dir.name}.trans.txt"
                transcripts = read_transcripts(trans_path)
                flacs = {p.stem: p for p in chapter_dir.glob("*.flac")}
                for uid in sorted(set(flacs) | set(transcripts.texts) | set(transcripts.problems)):
                    if utterances_per_speaker and kept >= utterances_per_speaker:
                        break
                    here = flacs.get(uid, chapter_dir / f"{uid}.flac")
                    if uid in seen:
                        skips.handle(
                            BadInputError(
                                here,
                                f"utterance {uid} is in two split folders: {seen[uid]} and {here}",
                                "An utterance may be read once: keep one copy (remove the other file and its "
                                "transcript line), or drop one of the folders from corpus.librispeech.splits "
                                "(or set on_bad_input: skip to keep the first)",
                                utt_id=uid,
                            ),
                            uid,
                        )
                        continue
                    seen[uid] = here
                    row = skips.call(
                        uid,
                        _utterance,
                        uid,
                        flacs.get(uid),
                        chapter_dir,
                        trans_path,
                        transcripts,
                        speaker,
                        info,
                        sample_rate,
                        min_samples,
                    )
                    if row is not None:
                        rows.append(row)
                        kept += 1
    missing = sorted(wanted - present_speakers)
    if missing:
        err = BadInputError(
            "corpus.librispeech.speakers",
            f"speaker(s) {', '.join(missing)} are in none of the split folders {', '.join(splits)}",
            f"Fix corpus.librispeech.speakers (speakers present: {_some(present_speakers)}).",
        )
        if on_bad_input == "error":
            skips.handle(err)  # listed with every other problem
        else:
            log.warning("%s", err)
    skipped = skips.table()  # error mode: raises every problem found above at once
    if not rows:
        problem = (
            f"none of the speakers {', '.join(sorted(wanted))} is in the split folders {', '.join(splits)}"
            if wanted and not (wanted & present_speakers)
            else f"no usable utterance in {', '.join(splits)} ({len(skipped)} skipped, see skipped.tsv)"
        )
        raise BadInputError(
            root,
            problem + ", so the corpus would be empty",
            "Check corpus.librispeech.splits and corpus.librispeech.speakers "
            f"(speakers present: {_some(present_speakers)}), and the reasons in skipped.tsv.",
        )
    df = pd.DataFrame(rows, columns=MANIFEST_COLUMNS[:-1])
    manifest = finish_manifest(df, test_fraction, speaker_disjoint, seed)
    spk = pd.DataFrame(
        [
            {
                "speaker": s,
                "gender": info[s].gender,
                "subset": info[s].subset,
                "minutes_total": info[s].minutes,
                "name": info[s].name,
            }
            for s in sorted(manifest["speaker"].unique())
        ],
        columns=["speaker", "gender", "subset", "minutes_total", "name"],
    )
    spk = spk.merge(speaker_summary(manifest), on="speaker", how="left") if len(spk) else spk
    return manifest, skipped, spk


def _some(names: set[str], n: int = 10) -> str:
    """A few names, sorted, for a message."""
    names = sorted(names)
    return ", ".join(names[:n]) + (f" and {len(names) - n} more" if len(names) > n else "") if names else "none"


def _utterance(
    uid: str,
    flac: Path | None,
    chapter_dir: Path,
    trans_path: Path,
    transcripts: Transcripts,
    speaker: str,
    info: dict[str, SpeakerInfo],
    sample_rate: int,
    min_samples: int = 0,
) -> dict:
    if flac is None:
        raise BadInputError(
            chapter_dir / f"{uid}.flac",
            f"audio of transcript line {uid} in {trans_path.name} is missing",
            "Restore the audio file or delete the transcript line (or set on_bad_input: skip).",
            utt_id=uid,
        )
    if uid in transcripts.problems:
        raise transcripts.problems[uid]
    if uid not in transcripts.texts:
        problem = (
            f"{trans_path.name} does not exist"
            if not trans_path.exists()
            else f"{trans_path.name} has no line for {uid}"
        )
        raise BadInputError(
            flac,
            f"no transcript: {problem}",
            f"Add a line '{uid} <TRANSCRIPT>' to {trans_path} or remove the audio (or set on_bad_input: skip).",
            utt_id=uid,
        )
    if speaker not in info:
        raise BadInputError(
            flac,
            f"speaker {speaker} is not in SPEAKERS.TXT (gender unknown)",
            f"Add a line '{speaker} | F or M | <subset> | <minutes> | <name>' to SPEAKERS.TXT, "
            "or leave the speaker out "
            "with corpus.librispeech.speakers (or set on_bad_input: skip).",
            utt_id=uid,
        )
    duration = check_utterance_audio(flac, sample_rate, uid, min_samples)
    return {
        "utt_id": uid,
        "audio_path": os.path.abspath(flac),
        "speaker": speaker,
        "gender": info[speaker].gender,
        "duration_s": round(duration, 6),
        "sample_rate": sample_rate,
        "transcript": transcripts.texts[uid],
    }
