"""A local LibriSpeech directory as a corpus (read in place; nothing is downloaded).

Layout: ``<root>/SPEAKERS.TXT`` and ``<root>/<split>/<speaker>/<chapter>/`` holding
``<speaker>-<chapter>-<nnnn>.flac`` and ``<speaker>-<chapter>.trans.txt`` (lines
``<utt_id> <TRANSCRIPT>``). Gender comes from SPEAKERS.TXT (``ID | SEX | SUBSET | MINUTES |
NAME``). A missing root, split folder or SPEAKERS.TXT is always an error; per-utterance
problems (bad audio, a missing transcript line, audio missing for a transcript line, an
unknown speaker) follow ``on_bad_input``.
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


def read_transcripts(path: Path) -> dict[str, str]:
    """``<speaker>-<chapter>.trans.txt`` -> {utt_id: transcript} (empty if the file is missing)."""
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip():
            uid, _, text = line.strip().partition(" ")
            out[uid] = text.strip()
    return out


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
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Build (manifest, skipped, speakers) from a local LibriSpeech directory.

    Utterances are visited in sorted order per speaker; with utterances_per_speaker = N > 0
    the first N usable ones are kept. Audio paths are absolute (the audio is read in place).
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
    info = read_speakers_txt(root / "SPEAKERS.TXT")
    wanted = {str(s) for s in speakers}
    skips = SkipCounter(on_bad_input)
    rows: list[dict] = []
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
            if wanted and speaker not in wanted:
                continue
            kept = 0
            for chapter_dir in sorted((p for p in spk_dir.iterdir() if p.is_dir()), key=lambda p: p.name):
                trans_path = chapter_dir / f"{speaker}-{chapter_dir.name}.trans.txt"
                transcripts = read_transcripts(trans_path)
                flacs = {p.stem: p for p in chapter_dir.glob("*.flac")}
                for uid in sorted(set(flacs) | set(transcripts)):
                    if utterances_per_speaker and kept >= utterances_per_speaker:
                        break
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
                    )
                    if row is not None:
                        rows.append(row)
                        kept += 1
    if wanted:
        found = {r["speaker"] for r in rows} | {s.split("-")[0] for s in skips.table()["utt_id"]}
        missing = sorted(wanted - found)
        if missing:
            log.warning("speakers %s of corpus.librispeech.speakers were not found", ", ".join(missing))
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
    return manifest, skips.table(), spk


def _utterance(
    uid: str,
    flac: Path | None,
    chapter_dir: Path,
    trans_path: Path,
    transcripts: dict[str, str],
    speaker: str,
    info: dict[str, SpeakerInfo],
    sample_rate: int,
) -> dict:
    if flac is None:
        raise BadInputError(
            chapter_dir / f"{uid}.flac",
            f"audio of transcript line {uid} in {trans_path.name} is missing",
            "Restore the audio file or delete the transcript line (or set on_bad_input: skip).",
            utt_id=uid,
        )
    if uid not in transcripts:
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
    duration = check_utterance_audio(flac, sample_rate, uid)
    return {
        "utt_id": uid,
        "audio_path": os.path.abspath(flac),
        "speaker": speaker,
        "gender": info[speaker].gender,
        "duration_s": round(duration, 6),
        "sample_rate": sample_rate,
        "transcript": transcripts[uid],
    }
