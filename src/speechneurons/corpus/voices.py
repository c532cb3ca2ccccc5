"""The voice table of the synthesized corpus: one speaker = one fixed voice and settings.

Debian-main synthesizers give few voices (flite: slt F, rms/awb/kal16 M; festival: kal/ked M,
cmu_us_slt_arctic_hts F). More speakers come from fixed settings:

- ``f0_mean`` / ``f0_std``: flite's ``int_f0_target_mean`` / ``int_f0_target_stddev`` (Hz);
  rms ignores them, so only slt, awb and kal16 are pitch-shifted;
- ``change_gender``: Praat "Change gender" through Parselmouth with (formant shift ratio, new
  pitch median in Hz, pitch range factor); the duration factor is 1, so durations and hence
  the synthesizer's phone timings stay valid.

A speaker is *derived* when it uses any of these settings; ``derivation`` says how.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True)
class Voice:
    """One speaker of the synthesized corpus."""

    speaker: str
    gender: str  # "F" or "M": the perceived gender of the output
    engine: str  # "flite" or "festival"
    voice: str  # flite -voice name or festival voice function without "voice_"
    native_gender: str  # gender of the unmodified voice
    f0_mean: float | None = None  # flite int_f0_target_mean (Hz)
    f0_std: float | None = None  # flite int_f0_target_stddev (Hz)
    change_gender: tuple[float, float, float] | None = None  # (formant ratio, pitch median Hz, range factor)

    @property
    def derived(self) -> bool:
        return self.f0_mean is not None or self.f0_std is not None or self.change_gender is not None

    @property
    def derivation(self) -> str:
        parts = []
        if self.f0_mean is not None:
            parts.append(f"flite int_f0_target_mean={self.f0_mean:g}")
        if self.f0_std is not None:
            parts.append(f"flite int_f0_target_stddev={self.f0_std:g}")
        if self.change_gender is not None:
            ratio, median, rng = self.change_gender
            parts.append(
                f"Praat Change gender (formant shift {ratio:g}, pitch median {median:g} Hz, "
                f"pitch range factor {rng:g}, duration factor 1)"
            )
        return "; ".join(parts) if parts else "native voice"


VOICES: tuple[Voice, ...] = (
    # female
    Voice("f_slt", "F", "flite", "slt", "F"),
    Voice("f_slt_hi", "F", "flite", "slt", "F", f0_mean=215.0),
    Voice("f_slthts", "F", "festival", "cmu_us_slt_arctic_hts", "F"),
    Voice("f_rms_cg", "F", "flite", "rms", "M", change_gender=(1.18, 200.0, 1.0)),
    Voice("f_awb_cg", "F", "flite", "awb", "M", change_gender=(1.15, 185.0, 1.1)),
    Voice("f_kal_cg", "F", "festival", "kal_diphone", "M", change_gender=(1.2, 225.0, 1.2)),
    Voice("f_ked_cg", "F", "festival", "ked_diphone", "M", change_gender=(1.16, 195.0, 1.0)),
    # male
    Voice("m_rms", "M", "flite", "rms", "M"),
    Voice("m_awb", "M", "flite", "awb", "M"),
    Voice("m_kal16", "M", "flite", "kal16", "M"),
    Voice("m_awb_lo", "M", "flite", "awb", "M", f0_mean=95.0),
    Voice("m_kal", "M", "festival", "kal_diphone", "M"),
    Voice("m_ked", "M", "festival", "ked_diphone", "M"),
    Voice("m_slt_cg", "M", "flite", "slt", "F", change_gender=(0.85, 115.0, 1.0)),
)
VOICE_BY_SPEAKER = {v.speaker: v for v in VOICES}


def select_voices(speakers: list[str] | tuple[str, ...] = ()) -> list[Voice]:
    """The voices named in ``speakers`` (all when empty); unknown names raise ValueError."""
    if not speakers:
        return list(VOICES)
    unknown = [s for s in speakers if s not in VOICE_BY_SPEAKER]
    if unknown:
        raise ValueError(
            f"unknown synth speaker(s) {', '.join(unknown)} in corpus.synth.speakers; "
            f"choose from {', '.join(VOICE_BY_SPEAKER)}"
        )
    return [VOICE_BY_SPEAKER[s] for s in speakers]


def voice_table(voices: list[Voice] | tuple[Voice, ...] = VOICES) -> pd.DataFrame:
    """One row per speaker: speaker, gender, synthesizer settings, derived, derivation."""
    rows = []
    for v in voices:
        row = asdict(v)
        cg = row.pop("change_gender")
        row["synthesizer"] = row.pop("engine")
        row["formant_shift"] = cg[0] if cg else None
        row["pitch_median_target_hz"] = cg[1] if cg else None
        row["pitch_range_factor"] = cg[2] if cg else None
        row["derived"] = v.derived
        row["derivation"] = v.derivation
        rows.append(row)
    cols = [
        "speaker",
        "gender",
        "synthesizer",
        "voice",
        "native_gender",
        "f0_mean",
        "f0_std",
        "formant_shift",
        "pitch_median_target_hz",
        "pitch_range_factor",
        "derived",
        "derivation",
    ]
    return pd.DataFrame(rows)[cols]
