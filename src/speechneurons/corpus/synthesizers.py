"""Offline speech synthesis with the synthesizer's own phone timings (flite, festival).

For each utterance we get 16 kHz mono audio and the synthesizer's segments
``[(name, end_s), ...]``. Phone intervals are [previous end, end); names are mapped to the
39-phone ARPAbet (``pau`` -> silence, written as an empty label, as MFA does). Word
intervals come from festival's Word relation, or for flite (which prints no word
structure) from a dynamic programme that splits the speech phones between pauses into the
sentence's words, minimising the summed edit distance to each word's CMU pronunciations.
Derived speakers pass through Praat "Change gender" (duration factor 1: timings unchanged).
Subprocesses get argument lists only (no shell); festival reads a Scheme file we write.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from speechneurons.corpus.sentences import pronunciations
from speechneurons.corpus.voices import Voice
from speechneurons.phones import SILENCE, SPOKEN_NOISE, normalize_phone

log = logging.getLogger(__name__)

# flite (cmu_us) and festival (radio) phone names that are not plain ARPAbet.
SYNTH_PHONE_MAP = {
    "pau": SILENCE,
    "h#": SILENCE,
    "brth": SILENCE,
    "#": SILENCE,
    "ax": "AH",
    "axr": "ER",
    "ix": "IH",
    "ux": "UW",
    "el": "L",
    "em": "M",
    "en": "N",
    "nx": "N",
    "dx": "D",
    "hv": "HH",
}

Interval = tuple[float, float, str]


def map_synth_phone(name: str) -> str:
    """flite/festival phone name -> 39-phone ARPAbet, 'sil' or 'spn' (unknown names)."""
    name = name.strip().lower()
    if name in SYNTH_PHONE_MAP:
        return SYNTH_PHONE_MAP[name]
    try:
        return normalize_phone(name)
    except ValueError:
        log.warning("unknown synthesizer phone %r mapped to spn", name)
        return SPOKEN_NOISE


def segments_to_phones(segments: Sequence[tuple[str, float]]) -> list[Interval]:
    """Segments with end times -> ARPAbet phone intervals [prev_end, end) (silence = 'sil')."""
    out: list[Interval] = []
    start = 0.0
    for name, end in segments:
        end = float(end)
        if end > start:
            out.append((start, end, map_synth_phone(name)))
            start = end
    return out


def _edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    prev = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, y in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x != y))
        prev = cur
    return prev[-1]


def group_words(phones: Sequence[Interval], words: Sequence[str]) -> list[Interval]:
    """Word intervals from phone intervals and the spoken words (in order).

    The speech phones (silence removed) are split into len(words) consecutive non-empty
    groups, no group spanning a silence, minimising sum_i min_pron editdistance(group_i, pron);
    each word spans its group's first start to its last end.
    """
    speech = [(s, e, p) for s, e, p in phones if p not in (SILENCE,)]
    labels = [p for _, _, p in speech]
    # a pause lies between speech phone k-1 and k
    pause_before = set()
    k = 0
    for _, _, p in phones:
        if p == SILENCE:
            pause_before.add(k)
        else:
            k += 1
    n, m = len(words), len(labels)
    if n == 0:
        return []
    if m < n:
        raise ValueError(f"{m} speech phones cannot cover {n} words")
    prons = [pronunciations(w) or [[]] for w in words]
    inf = float("inf")
    cost = np.full((n + 1, m + 1), inf)
    back = np.zeros((n + 1, m + 1), dtype=int)
    cost[0, 0] = 0.0
    for i in range(1, n + 1):
        lens = [len(p) for p in prons[i - 1]]
        lo, hi = max(1, min(lens) - 4), max(lens) + 4
        for j in range(i, m - (n - i) + 1):
            best, arg = inf, -1
            for k in range(max(i - 1, j - hi), j - lo + 1):
                if cost[i - 1, k] == inf:
                    continue
                if any(b in pause_before for b in range(k + 1, j)):
                    continue  # a group may not span a pause
                c = cost[i - 1, k] + min(_edit_distance(labels[k:j], p) for p in prons[i - 1])
                if c < best:
                    best, arg = c, k
            cost[i, j], back[i, j] = best, arg
    if cost[n, m] == inf:
        raise ValueError(f"cannot split phones {labels} into words {list(words)}")
    bounds, j = [], m
    for i in range(n, 0, -1):
        k = int(back[i, j])
        bounds.append((k, j))
        j = k
    bounds.reverse()
    return [(speech[k][0], speech[j - 1][1], w) for (k, j), w in zip(bounds, words)]


def words_from_festival(phones: Sequence[Interval], words: Sequence[tuple[str, float, float]]) -> list[Interval]:
    """festival Word items (name, start, end) -> word intervals (dropping empty ones)."""
    return [(float(s), float(e), w.lower()) for w, s, e in words if float(e) > float(s)]


# --------------------------------------------------------------------------- synthesizers


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(
            f"{program} is not installed; run `make setup` (envs/setup.sh installs the Debian "
            f"packages of envs/apt-packages.txt)"
        )
    return path


def run_flite(text: str, voice: Voice, wav_path: str | Path) -> list[tuple[str, float]]:
    """Synthesize ``text`` with flite into ``wav_path``; return segments (name, end_s)."""
    cmd = [_require("flite"), "-voice", voice.voice]
    if voice.f0_mean is not None:
        cmd += ["--setf", f"int_f0_target_mean={voice.f0_mean:g}"]
    if voice.f0_std is not None:
        cmd += ["--setf", f"int_f0_target_stddev={voice.f0_std:g}"]
    cmd += ["-psdur", "-t", text, "-o", str(wav_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True)
    segments = []
    for token in res.stdout.split():
        name, _, end = token.rpartition(":")
        if name:
            segments.append((name, float(end)))
    if not segments:
        raise RuntimeError(f"flite printed no segments for {text!r}: {res.stdout!r} {res.stderr!r}")
    return segments


def _scheme_string(s: str) -> str:
    return '"' + str(s).replace("\\", "\\\\").replace('"', '\\"') + '"'


def run_festival(texts: Sequence[str], voice: Voice, out_dir: str | Path) -> list[dict]:
    """Synthesize ``texts`` in one festival process; wavs go to out_dir/<i>.wav.

    Returns per text: {"wav": path, "segments": [(name, end)], "words": [(name, start, end)]}.
    """
    out_dir = Path(out_dir)
    lines = [f"(voice_{voice.voice})"]
    for i, text in enumerate(texts):
        wav = out_dir / f"{i}.wav"
        lines += [
            f"(set! utt1 (SynthText {_scheme_string(text)}))",
            f"(utt.save.wave utt1 {_scheme_string(str(wav))} 'riff)",
            f'(format t "UTT {i}\\n")',
            '(mapcar (lambda (s) (format t "SEG %s %f\\n" (item.name s) (item.feat s "end"))) '
            "(utt.relation.items utt1 'Segment))",
            '(mapcar (lambda (w) (format t "WORD %s %f %f\\n" (item.name w) (item.feat w "word_start") '
            '(item.feat w "word_end"))) (utt.relation.items utt1 \'Word))',
        ]
    script = out_dir / "synth.scm"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    res = subprocess.run([_require("festival"), "-b", str(script)], capture_output=True, text=True, check=True)
    results: list[dict] = []
    for line in res.stdout.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "UTT":
            results.append({"wav": out_dir / f"{parts[1]}.wav", "segments": [], "words": []})
        elif parts[0] == "SEG" and results:
            results[-1]["segments"].append((parts[1], float(parts[2])))
        elif parts[0] == "WORD" and results:
            results[-1]["words"].append((parts[1], float(parts[2]), float(parts[3])))
    if len(results) != len(texts):
        raise RuntimeError(
            f"festival ({voice.voice}) returned {len(results)} of {len(texts)} utterances: {res.stderr[-2000:]}"
        )
    return results


def change_gender(audio: np.ndarray, sr: int, voice: Voice, seed: int = 0) -> np.ndarray:
    """Praat "Change gender" with the voice's fixed settings (duration factor 1).

    Praat's PSOLA draws random numbers; its generator is seeded with ``seed`` first, so the
    output is bit-for-bit repeatable.
    """
    import parselmouth

    parselmouth.praat.run(f"random_initializeWithSeedUnsafelyButPredictably({int(seed) & 0x7FFFFFFF})")
    ratio, median, range_factor = voice.change_gender
    floor, ceiling = (60.0, 300.0) if voice.native_gender == "M" else (100.0, 500.0)
    sound = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sr)
    out = parselmouth.praat.call(sound, "Change gender", floor, ceiling, ratio, median, range_factor, 1.0)
    y = out.values[0]
    if len(y) != len(audio):  # keep the exact length so timings stay aligned
        y = np.pad(y, (0, max(0, len(audio) - len(y))))[: len(audio)]
    return y


def finish_audio(audio: np.ndarray, sr: int, target_sr: int = 16000, peak: float = 0.8) -> np.ndarray:
    """Resample to ``target_sr`` (soxr) and scale to a fixed peak; float32 mono."""
    import soxr

    audio = np.asarray(audio, dtype=np.float64)
    if audio.ndim > 1:
        audio = audio.mean(axis=1)
    if sr != target_sr:
        audio = soxr.resample(audio, sr, target_sr, quality="HQ")
    m = np.max(np.abs(audio)) if len(audio) else 0.0
    if m > 0:
        audio = audio * (peak / m)
    return audio.astype(np.float32)


def f0_track(audio: np.ndarray, sr: int, floor: float = 60.0, ceiling: float = 500.0) -> np.ndarray:
    """F0 (Hz) of the voiced 10 ms frames (Praat autocorrelation via parselmouth)."""
    import parselmouth

    pitch = parselmouth.Sound(audio.astype(np.float64), sampling_frequency=sr).to_pitch(
        time_step=0.01, pitch_floor=floor, pitch_ceiling=ceiling
    )
    f0 = pitch.selected_array["frequency"]
    return f0[f0 > 0]


def median_f0(audio: np.ndarray, sr: int, floor: float = 60.0, ceiling: float = 500.0) -> float:
    """Median F0 (Hz) over voiced frames (nan when nothing is voiced)."""
    f0 = f0_track(audio, sr, floor, ceiling)
    return float(np.median(f0)) if len(f0) else float("nan")


@dataclass
class SynthUtterance:
    """One synthesized utterance: 16 kHz audio and its word / phone intervals."""

    audio: np.ndarray
    sample_rate: int
    words: list[Interval]
    phones: list[Interval]

    @property
    def duration_s(self) -> float:
        return len(self.audio) / self.sample_rate


def synth_text(words: Sequence[str]) -> str:
    """The text handed to the synthesizer: lowercase words, comma before a conjunction, period."""
    from speechneurons.corpus.sentences import CONJUNCTIONS

    out: list[str] = []
    for i, w in enumerate(words):
        if i and w in CONJUNCTIONS:
            out[-1] += ","
        out.append(w.lower())
    return " ".join(out) + "."


def synthesize(sentences: Sequence[Sequence[str]], voice: Voice, sample_rate: int = 16000) -> list[SynthUtterance]:
    """Synthesize sentences (lists of words) with one voice; timings in seconds."""
    texts = [synth_text(s) for s in sentences]
    raw: list[tuple[np.ndarray, int, list, list | None]] = []
    with tempfile.TemporaryDirectory(prefix="speechneurons-synth-") as tmp:
        if voice.engine == "flite":
            for i, text in enumerate(texts):
                wav = Path(tmp) / f"{i}.wav"
                segs = run_flite(text, voice, wav)
                audio, sr = sf.read(str(wav), dtype="float64")
                raw.append((audio, sr, segs, None))
        elif voice.engine == "festival":
            for res in run_festival(texts, voice, tmp):
                audio, sr = sf.read(str(res["wav"]), dtype="float64")
                raw.append((audio, sr, res["segments"], res["words"]))
        else:
            raise ValueError(f"unknown synthesizer {voice.engine!r}")
    out = []
    for words, text, (audio, sr, segs, fest_words) in zip(sentences, texts, raw):
        if audio.ndim > 1:
            audio = audio.mean(axis=1)
        if voice.change_gender is not None:
            audio = change_gender(audio, sr, voice, seed=zlib.crc32(f"{voice.speaker}:{text}".encode()))
        audio = finish_audio(audio, sr, sample_rate)
        phones = segments_to_phones(segs)
        if fest_words is not None:
            word_iv = words_from_festival(phones, fest_words)
        else:
            word_iv = group_words(phones, [w.lower() for w in words])
        out.append(SynthUtterance(audio, sample_rate, word_iv, phones))
    return out


def phones_for_textgrid(phones: Sequence[Interval]) -> list[Interval]:
    """Silence as empty labels (MFA style); everything else as ARPAbet."""
    return [(s, e, "" if p == SILENCE else p) for s, e, p in phones]
