"""Builders for the dissection tests: schema-default settings and a tiny fake corpus with known answers.

The fake corpus has 4 speakers (female at 220 and 140 Hz, male at 100 and 180 Hz, so that the
high pitch bin, 180 and 220 Hz, holds one speaker of each gender) saying the same 4 sentences
with the same phone durations. Each phone segment's audio is synthesised by its type, so the
acoustic attributes are known: vowels are loud harmonic tones, voiced consonants quiet
harmonic tones, unvoiced consonants white noise (bright, flat tilt). Frame labels, pitch frames,
the ``mid`` dump index and the manifest are built exactly as the workflow's stages write them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from speechneurons.config import settings_from
from speechneurons.dissection.settings import BrowserSettings, DissectionSettings, LLMSettings, PruningSettings
from speechneurons.frames import FrameGrid
from speechneurons.phones import PHONE_TO_TYPE
from tests.helpers.config import default_section

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "dissection.schema.yaml"


def section(**overrides) -> dict:
    """The ``dissection`` section with the schema's defaults; ``overrides`` replace keys (dicts
    merge one level, e.g. ``llm={"model": "x"}``)."""
    out = copy.deepcopy(default_section("dissection"))
    for key, value in overrides.items():
        if isinstance(value, dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def settings(**overrides) -> DissectionSettings:
    """The settings of a layer job, from the schema defaults with ``overrides``."""
    return settings_from(DissectionSettings, section(**overrides))


def llm_settings(**values) -> LLMSettings:
    return settings_from(LLMSettings, section(llm=values)["llm"])


def browser_settings(**values) -> BrowserSettings:
    return settings_from(BrowserSettings, section(browser=values)["browser"])


def pruning_settings(resamples: int = 200, level: float = 0.95, match_neighbours: int = 3, balance_ks: float = 0.1,
                     **values) -> PruningSettings:  # fmt: skip
    return settings_from(PruningSettings, section(pruning=values)["pruning"], seed=0, resamples=resamples,
                         level=level, match_neighbours=match_neighbours, balance_ks=balance_ks)  # fmt: skip


SPEAKERS = {"f_a": ("F", 220.0), "f_b": ("F", 140.0), "m_a": ("M", 100.0), "m_b": ("M", 180.0)}
WORDS = {
    "SEAT": ["S", "IY", "T"],
    "MAN": ["M", "AE", "N"],
    "FISH": ["F", "IH", "SH"],
    "A": ["AH"],
    "DOG": ["D", "AO", "G"],
    "TOP": ["T", "AA", "P"],
}
SENTENCES = [["SEAT", "A", "MAN"], ["FISH", "DOG"], ["TOP", "A", "FISH"], ["MAN", "SEAT", "DOG"]]
SR = 16000


@dataclass
class FakeCorpus:
    root: Path
    manifest: pd.DataFrame
    frames: pd.DataFrame
    pitch_frames: pd.DataFrame
    index: pd.DataFrame
    audio_paths: dict
    grid: FrameGrid


def _segment_audio(phone: str, n_samples: int, f0: float, rng: np.random.Generator, t0: int) -> np.ndarray:
    t = (t0 + np.arange(n_samples)) / SR
    kind = PHONE_TO_TYPE.get(phone, "silence")
    if kind == "vowel":
        return 0.3 * sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 6))
    if kind == "voiced_consonant":
        return 0.03 * sum(np.sin(2 * np.pi * h * f0 * t) / h**2 for h in range(1, 4))
    if kind == "unvoiced_consonant":
        return 0.08 * rng.standard_normal(n_samples)
    return 0.001 * rng.standard_normal(n_samples)


def make_corpus(root: Path, seed: int = 0) -> FakeCorpus:
    """Write the fake corpus's audio under ``root`` and return its tables (see module docstring)."""
    rng = np.random.default_rng(seed)
    grid = FrameGrid()
    rows_m, rows_f, rows_p = [], [], []
    for spk, (gender, f0) in SPEAKERS.items():
        for s, words in enumerate(SENTENCES):
            utt = f"{spk}-{s:04d}"
            lengths = np.random.default_rng(seed + s).integers(3, 7, size=100)
            phones = [(p, w) for w in words for p in WORDS[w]]
            segs = [("sil", "", 4)] + [(p, w, int(n)) for (p, w), n in zip(phones, lengths)]
            segs.append(("sil", "", 4))
            n_frames = sum(n for _, _, n in segs)
            n_samples = (n_frames - 1) * grid.hop + grid.receptive_field
            audio = np.zeros(n_samples)
            frame = 0
            for phone, word, n in segs:
                a, b = frame * grid.hop, (frame + n) * grid.hop if frame + n < n_frames else n_samples
                audio[a:b] = _segment_audio(phone, b - a, f0, rng, a)
                voiced = PHONE_TO_TYPE.get(phone) in ("vowel", "voiced_consonant")
                for t in range(frame, frame + n):
                    rows_f.append((utt, t, phone, word, t == frame + (n - 1) // 2))
                    rows_p.append((utt, t, f0 if voiced else np.nan, voiced))
                frame += n
            path = root / "audio" / f"{utt}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, audio.astype(np.float32), SR, subtype="PCM_16")
            rows_m.append(
                (utt, str(path), spk, gender, n_samples / SR, SR, " ".join(words), "train" if s < 3 else "test")
            )
    manifest = pd.DataFrame(
        rows_m,
        columns=["utt_id", "audio_path", "speaker", "gender", "duration_s", "sample_rate", "transcript", "split"],
    )
    frames = pd.DataFrame(rows_f, columns=["utt_id", "frame", "phone", "word", "is_mid"])
    pitch = pd.DataFrame(rows_p, columns=["utt_id", "frame", "f0_hz", "voiced"])
    cuts = np.quantile(pitch["f0_hz"].dropna(), [1 / 3, 2 / 3])
    pitch["pitch_bin"] = np.where(pitch["voiced"], np.searchsorted(cuts, pitch["f0_hz"].fillna(0), side="right"), -1)
    mid = frames[frames["is_mid"] & frames["phone"].isin(PHONE_TO_TYPE)].merge(pitch, on=["utt_id", "frame"])
    mid = mid.merge(manifest[["utt_id", "speaker", "gender", "split"]], on="utt_id")
    index = mid[["utt_id", "frame", "speaker", "gender", "phone", "is_mid", "f0_hz", "pitch_bin", "split"]]
    return FakeCorpus(
        root,
        manifest,
        frames,
        pitch,
        index.reset_index(drop=True),
        dict(zip(manifest["utt_id"], manifest["audio_path"])),
        grid,
    )


def planted_activations(table: pd.DataFrame, n_neurons: int = 8, seed: int = 0) -> np.ndarray:
    """Activations [N, n_neurons]: small noise, with neurons 0-3 planted on known attributes.

    0: vowels; 1: female speakers; 2: high pitch; 3: unvoiced consonants (each +1 on its items).
    Neurons 4.. are noise only.
    """
    rng = np.random.default_rng(seed)
    acts = 0.05 * rng.standard_normal((len(table), n_neurons))
    acts[:, 0] += table["phone_type"].eq("vowel").to_numpy()
    acts[:, 1] += table["gender"].eq("F").to_numpy()
    acts[:, 2] += table["pitch"].eq("high").to_numpy()
    acts[:, 3] += table["phone_type"].eq("unvoiced_consonant").to_numpy()
    return acts.astype(np.float32)
