"""Does an alignment fit its audio? Two checks a forced aligner can fail without noticing.

A forced aligner always finds *some* path through the words it is given: 2 s of digital
silence with a three-word transcript aligns, with one phone stretched over 1.7 s, and so does a
transcript of other words. Two measures tell such alignments from real ones:

- **acoustic score per frame** (pocketsphinx): the alignment's acoustic score of its speech
  phones divided by their 10 ms frames. pocketsphinx scores each frame relative to the best
  senone of that frame, so 0 is the best possible and the measure does not depend on the
  recording's level or channel. Matching synthesized speech scores about -9 to -12; the same
  audio with another sentence's words about -50 to -60. Below ``min_score`` it does not fit.
- **quiet speech share**: the share of the frames inside speech phones that are quiet by
  energy (10 ms frames more than ``QUIET_BELOW_DB`` under the utterance's loud level, its 95th
  percentile of frame energy, or under ``QUIET_FLOOR_DBFS``). Speech phones lie on sound; a
  share above ``max_quiet_share`` (digital silence: 1.0) does not fit.

Both values are written to the aligner's report.tsv for every utterance, so the thresholds
(align.pocketsphinx.fit_min_score, fit_max_quiet_share) can be judged on a corpus.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

QUIET_BELOW_DB = 30.0  # a frame this far under the utterance's loud level is quiet
QUIET_FLOOR_DBFS = -70.0  # a frame under this level is quiet whatever the utterance
FRAME_S = 0.01  # energy frames: 10 ms, the decoder's frame rate


@dataclass(frozen=True)
class Fit:
    """The fit measures of one alignment and what is wrong with it (empty when it fits)."""

    score_per_frame: float  # NaN when the aligner gives no score
    quiet_speech_share: float  # NaN when there is no speech phone
    problems: tuple[str, ...]

    @property
    def fits(self) -> bool:
        return not self.problems


def quiet_frames(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per 10 ms frame of ``audio``: whether it is quiet (see the module doc)."""
    hop = max(1, int(round(FRAME_S * sample_rate)))
    n = len(audio) // hop
    if n == 0:
        return np.ones(0, dtype=bool)
    x = np.asarray(audio[: n * hop], dtype=np.float64).reshape(n, hop)
    db = 10 * np.log10(np.mean(x**2, axis=1) + 1e-12)
    loud = float(np.percentile(db, 95))
    return db < max(loud - QUIET_BELOW_DB, QUIET_FLOOR_DBFS)


def quiet_speech_share(audio: np.ndarray, sample_rate: int, phones: Sequence[tuple[float, float, str]]) -> float:
    """Share of the 10 ms frames whose centre lies in a speech phone (a non-empty label other
    than sil/sp/spn) that are quiet; NaN without speech phones."""
    quiet = quiet_frames(audio, sample_rate)
    centres = (np.arange(len(quiet)) + 0.5) * FRAME_S
    inside = np.zeros(len(quiet), dtype=bool)
    for start, end, label in phones:
        if label and label.lower() not in ("sil", "sp", "spn"):
            inside |= (centres >= start) & (centres < end)
    return float(quiet[inside].mean()) if inside.any() else float("nan")


def check_fit(
    audio: np.ndarray,
    sample_rate: int,
    phones: Sequence[tuple[float, float, str]],
    score_per_frame: float,
    min_score: float,
    max_quiet_share: float,
) -> Fit:
    """Both measures of one alignment against their thresholds."""
    share = quiet_speech_share(audio, sample_rate, phones)
    problems = []
    if np.isfinite(score_per_frame) and score_per_frame < min_score:
        problems.append(
            f"acoustic score {score_per_frame:.1f} per frame is below {min_score:g} (the words do not match the sound)"
        )
    if np.isnan(share) or share > max_quiet_share:
        shown = "no speech phone" if np.isnan(share) else f"{100 * share:.0f} % of the speech phones' frames are quiet"
        problems.append(f"{shown} (at most {100 * max_quiet_share:.0f} % allowed: speech aligned to silence)")
    return Fit(float(score_per_frame), share, tuple(problems))
