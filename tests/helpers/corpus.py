"""Test helpers of the corpus stage, importable by other stages' tests.

``make_librispeech_dir`` builds a small LibriSpeech-shaped folder (flac, ``*.trans.txt``,
``SPEAKERS.TXT``) from flite-synthesized audio; ``make_synth_utterances`` synthesizes a few
utterances with reference TextGrids. Both are seeded and take about a second.
"""

from __future__ import annotations

from pathlib import Path

from speechneurons.audio import write_flac
from speechneurons.corpus.sentences import generate_sentences
from speechneurons.corpus.voices import Voice

# LibriSpeech speaker id -> (gender, flite voice)
DEFAULT_SPEAKERS = {"1001": ("F", "slt"), "2002": ("M", "rms"), "3003": ("M", "awb"), "4004": ("F", "slt")}


def make_librispeech_dir(
    root: str | Path,
    speakers: dict[str, tuple[str, str]] | None = None,
    utterances_per_speaker: int = 2,
    split: str = "dev-clean",
    chapter: str = "100",
    seed: int = 0,
    words_per_sentence: tuple[int, int] = (3, 5),
    alignments: str | Path | None = None,
) -> Path:
    """Write ``root/SPEAKERS.TXT`` and ``root/<split>/<spk>/<chapter>/`` with flac + trans.txt.

    Utterance ids are ``<spk>-<chapter>-<nnnn>``; transcripts are uppercase words. Returns root.
    ``alignments``: also write the synthesizer's own timings there as the shared MFA alignments
    of LibriSpeech are laid out, ``<alignments>/<spk>/<chapter>/<utt>.TextGrid`` (lower-case
    words, phones with a stress digit on vowels, silence as ``sil``).
    """
    from speechneurons.align.textgrid import write_alignment_textgrid
    from speechneurons.corpus.synthesizers import synthesize
    from speechneurons.phones import VOWELS

    root = Path(root)
    speakers = speakers or DEFAULT_SPEAKERS
    lines = [
        "; Some comment lines, like the real file",
        ";ID    |SEX| SUBSET           |MINUTES| NAME",
    ]
    for k, (spk, (gender, flite_voice)) in enumerate(sorted(speakers.items())):
        lines.append(f"{spk:<6}| {gender} | {split:<17}| 1.00 | Reader {spk}")
        voice = Voice(f"ls{spk}", gender, "flite", flite_voice, gender)
        sentences = generate_sentences(utterances_per_speaker, [seed, k], words_per_sentence)
        utts = synthesize(sentences, voice)
        chap = root / split / spk / chapter
        chap.mkdir(parents=True, exist_ok=True)
        trans = []
        for i, (words, utt) in enumerate(zip(sentences, utts)):
            uid = f"{spk}-{chapter}-{i:04d}"
            write_flac(chap / f"{uid}.flac", utt.audio, utt.sample_rate)
            if alignments is not None:
                phones = [(a, b, f"{p}1" if p in VOWELS else p) for a, b, p in utt.phones]
                words_ = [(a, b, w.lower()) for a, b, w in utt.words]
                write_alignment_textgrid(Path(alignments) / spk / chapter / f"{uid}.TextGrid", utt.duration_s,
                                         words_, phones)  # fmt: skip
            trans.append(f"{uid} {' '.join(words).upper()}")
        (chap / f"{spk}-{chapter}.trans.txt").write_text("\n".join(trans) + "\n", encoding="utf-8")
    (root / "SPEAKERS.TXT").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def make_synth_utterances(out_dir: str | Path, speaker: str = "f_slt", n: int = 2, seed: int = 0) -> Path:
    """Synthesize ``n`` utterances of a voice-table speaker: out_dir/audio, out_dir/reference,
    out_dir/utterances.tsv (see speechneurons.corpus.build_synth_speaker). Returns out_dir."""
    from speechneurons.corpus.synth import build_synth_speaker

    out_dir = Path(out_dir)
    build_synth_speaker(speaker, n, seed, (4, 7), out_dir / "audio", out_dir / "reference", out_dir / "utterances.tsv")
    return out_dir


def wav_manifest(folder: str | Path, waves, splits=None, speaker: str = "s", gender: str = "F"):
    """A manifest (the corpus stage's columns) of ``waves`` written as 16 kHz wav files
    ``u<i>.wav`` in ``folder``; ``splits``: one split per wave (default: all ``train``)."""
    import pandas as pd
    import soundfile as sf

    folder = Path(folder)
    rows = []
    for i, w in enumerate(waves):
        sf.write(folder / f"u{i}.wav", w, 16000)
        rows.append(dict(utt_id=f"u{i}", audio_path=str(folder / f"u{i}.wav"), speaker=speaker, gender=gender,
                         duration_s=len(w) / 16000, sample_rate=16000, transcript="a",
                         split="train" if splits is None else splits[i]))  # fmt: skip
    return pd.DataFrame(rows)


#: Debian's recorded English prompts (one female speaker, 16 kHz G.722): audio from
#: asterisk-core-sounds-en-g722, transcripts from asterisk-core-sounds-en (envs/apt-test-packages.txt).
ASTERISK_SOUNDS = Path("/usr/share/asterisk/sounds/en")
ASTERISK_TRANSCRIPTS = Path("/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz")


def asterisk_prompts(n: int = 60, min_words: int = 3, max_words: int = 14) -> list[tuple[str, str]]:
    """``n`` prompts with a G.722 recording and a plain transcript: words only (no bracketed tone
    descriptions, digits or abbreviations), every word in cmudict, ``min_words`` to ``max_words``
    words; evenly spread over all such prompts sorted by name (not the first ``n``: those are
    mostly about conferences). Returns ``[(name, transcript), ...]``."""
    import gzip

    from speechneurons.align.pocketsphinx import cmudict_pronunciation, normalize_words

    out = []
    with gzip.open(ASTERISK_TRANSCRIPTS, "rt", encoding="utf-8", errors="replace") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        name, sep, text = line.partition(":")
        name, text = name.strip(), text.strip()
        if not sep or name.startswith(";") or "/" in name or not (ASTERISK_SOUNDS / f"{name}.g722").exists():
            continue
        if any(c in text for c in '[]()0123456789*#&/"') or any(w.isupper() and len(w) > 1 for w in text.split()):
            continue
        words = normalize_words(text)
        if min_words <= len(words) <= max_words and all(cmudict_pronunciation(w) for w in words):
            out.append((name, text))
    out = sorted(out)
    return [out[i] for i in sorted({int(k * len(out) / n) for k in range(min(n, len(out)))})]


def make_asterisk_librispeech_dir(root: str | Path, n: int = 60, speaker: str = "7000", chapter: str = "1") -> Path:
    """A LibriSpeech-shaped folder (``dev-clean/<speaker>/<chapter>/``, flac, ``*.trans.txt``,
    ``SPEAKERS.TXT``) of ``n`` of Debian's recorded prompts, decoded from G.722 with ffmpeg.
    Returns root; its ``prompts.tsv`` maps utterance ids to prompt names."""
    import subprocess

    root = Path(root)
    chap = root / "dev-clean" / speaker / chapter
    chap.mkdir(parents=True, exist_ok=True)
    trans, names = [], []
    for i, (name, text) in enumerate(asterisk_prompts(n)):
        uid = f"{speaker}-{chapter}-{i:04d}"
        subprocess.run(
            ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-f", "g722", "-i",
             str(ASTERISK_SOUNDS / f"{name}.g722"), "-ar", "16000", "-ac", "1", "-y", str(chap / f"{uid}.flac")],
            check=True,
        )  # fmt: skip
        trans.append(f"{uid} {text.upper()}")
        names.append(f"{uid}\t{name}")
    (chap / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(trans) + "\n", encoding="utf-8")
    (root / "SPEAKERS.TXT").write_text(
        f";ID    |SEX| SUBSET           |MINUTES| NAME\n{speaker:<6}| F | dev-clean        | 5.00 | Allison\n",
        encoding="utf-8",
    )
    (root / "prompts.tsv").write_text("utt_id\tprompt\n" + "\n".join(names) + "\n", encoding="utf-8")
    return root
