"""Backend 'textgrids': precomputed alignments, as researchers share them for LibriSpeech.

The widely shared Montreal Forced Aligner alignments of LibriSpeech are one TextGrid per
utterance with tiers ``words`` and ``phones`` (ARPAbet with stress, empty or ``sil``/``sp``
labels for silence, ``spn`` for spoken noise), in folders by speaker and chapter:
``<root>/<speaker>/<chapter>/<utt_id>.TextGrid`` (some copies add a split folder above the
speaker, e.g. ``<root>/dev-clean/<speaker>/...``); a flat folder ``<root>/<utt_id>.TextGrid``
works too. The TextGrid of an utterance is found by its file name anywhere under the root.

Each TextGrid is checked against the corpus before it is used:

- its words (silence and empty labels left out; case and punctuation normalised as the other
  aligners do, :func:`speechneurons.align.pocketsphinx.normalize_words`; MFA's ``<unk>`` stands
  for any one word) must be the transcript's words;
- its duration must be the audio's (within :data:`DURATION_TOLERANCE_S`);
- every phone must map to the 39-phone set (stress stripped), silence or ``spn``
  (:func:`speechneurons.phones.normalize_phone`).

A missing TextGrid, a word mismatch, a duration mismatch or an unknown phone is bad input of the
utterance (``on_bad_input``: the run stops listing them all, or the utterance is skipped and
listed in ``failed.tsv``). TextGrids under the root of the corpus's speakers that belong to no
utterance of the manifest are counted and listed as ``extra`` in the alignment report. The
alignment is re-written MFA-shaped with the phones mapped (``AH0`` -> ``AH``, silence -> empty
label, ``spn`` kept), so later stages read the same format from every aligner.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from speechneurons.errors import BadInputError
from speechneurons.phones import SILENCE, normalize_phone

log = logging.getLogger(__name__)

#: The largest difference between a TextGrid's duration and its audio's (seconds). MFA's
#: TextGrids end at the audio's last sample; a larger gap means another recording.
DURATION_TOLERANCE_S = 0.05
_SILENT_WORDS = {"", "sil", "sp", "<eps>", "<sil>"}
_UNKNOWN_WORD = "<unk>"


def index_textgrids(root: str | Path) -> dict[str, list[Path]]:
    """Every ``*.TextGrid`` under ``root`` by file stem (the utterance id), sorted paths."""
    if not str(root).strip():
        raise BadInputError(
            "align.textgrids.root",
            "align.aligner is 'textgrids' but align.textgrids.root is not set",
            "Set it to the folder of precomputed TextGrids (docs/own-data.md)",
        )
    root = Path(root)
    if not root.is_dir():
        raise BadInputError(
            root,
            "the folder of precomputed TextGrids (align.textgrids.root) does not exist",
            "Set align.textgrids.root to the folder that holds <speaker>/<chapter>/<utt>.TextGrid "
            "(or <utt>.TextGrid), or choose another align.aligner",
        )
    index: dict[str, list[Path]] = {}
    for path in sorted(root.rglob("*.TextGrid")):
        index.setdefault(path.stem, []).append(path)
    return index


def transcript_words(labels: Iterable[str]) -> list[str]:
    """The words of a ``words`` tier, normalised: silence left out, lower case, no punctuation."""
    from speechneurons.align.pocketsphinx import normalize_words

    out: list[str] = []
    for label in labels:
        label = str(label).strip()
        if label.lower() in _SILENT_WORDS:
            continue
        if label.lower() == _UNKNOWN_WORD:
            out.append(_UNKNOWN_WORD)
            continue
        out += normalize_words(label)
    return out


def words_match(aligned: list[str], transcript: list[str]) -> bool:
    """Whether the aligned words are the transcript's (``<unk>`` matches any one word)."""
    return len(aligned) == len(transcript) and all(a in (b, _UNKNOWN_WORD) for a, b in zip(aligned, transcript))


def _first_difference(aligned: list[str], transcript: list[str]) -> str:
    for i, (a, b) in enumerate(zip(aligned, transcript)):
        if a not in (b, _UNKNOWN_WORD):
            return f"word {i + 1} is {a!r} in the TextGrid, {b!r} in the transcript"
    return f"the TextGrid has {len(aligned)} words, the transcript {len(transcript)}"


def check_textgrid(path: str | Path, transcript: str, audio_duration_s: float | None, utt_id: str):
    """Read one precomputed TextGrid and check it against its utterance.

    Returns ``(duration_s, words, phones)`` with the phones mapped to the 39-phone set (silence
    as empty labels, ``spn`` kept). Raises BadInputError naming the file and the problem.
    """
    from speechneurons.align.pocketsphinx import normalize_words
    from speechneurons.align.textgrid import read_alignment_textgrid

    duration, words, phones = read_alignment_textgrid(path)
    aligned, expected = transcript_words(w[2] for w in words), normalize_words(str(transcript))
    if not words_match(aligned, expected):
        raise BadInputError(
            path,
            f"utterance {utt_id}: the TextGrid's words are not the transcript's "
            f"({_first_difference(aligned, expected)})",
            "Use the alignments made for this version of the transcripts, fix the transcript, "
            "or set on_bad_input: skip to leave the utterance out",
            utt_id,
        )
    if audio_duration_s is not None and abs(duration - float(audio_duration_s)) > DURATION_TOLERANCE_S:
        raise BadInputError(
            path,
            f"utterance {utt_id}: the TextGrid lasts {duration:.3f} s, its audio {float(audio_duration_s):.3f} s",
            "Use the alignments made for these recordings, or set on_bad_input: skip to leave the utterance out",
            utt_id,
        )
    mapped = []
    for start, end, label in phones:
        try:
            phone = normalize_phone(label)
        except ValueError:
            raise BadInputError(
                path,
                f"utterance {utt_id}: unknown phone {label!r} at {start:.3f}-{end:.3f} s "
                "(not ARPAbet: 39 phones with or without stress, silence or spn)",
                "Use alignments in the ARPAbet phone set (MFA english_us_arpa), "
                "or set on_bad_input: skip to leave the utterance out",
                utt_id,
            ) from None
        mapped.append((start, end, "" if phone == SILENCE else phone))
    return duration, words, mapped


def textgrids_align_fn(root: str | Path, index: dict[str, list[Path]] | None = None):
    """Backend 'textgrids': the utterance's precomputed TextGrid under ``root``, checked and mapped
    (:func:`check_textgrid`). A missing TextGrid, or two with the utterance's name, is bad input."""
    index = index_textgrids(root) if index is None else index

    def align(row):
        utt = str(row.utt_id)
        paths = index.get(utt, [])
        if not paths:
            raise BadInputError(
                Path(root) / f"{utt}.TextGrid",
                f"utterance {utt}: no precomputed TextGrid {utt}.TextGrid under {root} (missing)",
                "Add it, align the corpus with align.aligner: pocketsphinx or mfa, or set on_bad_input: "
                "skip to leave the utterance out",
                utt,
            )
        if len(paths) > 1:
            raise BadInputError(
                paths[0],
                f"utterance {utt}: {len(paths)} TextGrids of this name under {root} ({', '.join(map(str, paths))})",
                "Keep one of them (or point align.textgrids.root at one copy of the alignments)",
                utt,
            )
        duration, words, phones = check_textgrid(paths[0], str(row.transcript), getattr(row, "duration_s", None), utt)
        return duration, words, phones, 1

    return align


def extra_textgrids(root: str | Path, manifest: pd.DataFrame, index: dict[str, list[Path]] | None = None) -> list[str]:
    """TextGrids under ``root`` of the manifest's speakers that belong to no utterance of the
    manifest (a LibriSpeech id starts with its speaker, ``<speaker>-<chapter>-<n>``; when the
    manifest's ids do not, every TextGrid outside the manifest counts)."""
    index = index_textgrids(root) if index is None else index
    utts = set(manifest.utt_id.astype(str))
    speakers = set(manifest["speaker"].astype(str)) if "speaker" in manifest else set()
    prefixed = bool(utts) and all(u.split("-")[0] in speakers for u in utts)
    return sorted(s for s in index if s not in utts and (not prefixed or s.split("-")[0] in speakers))
