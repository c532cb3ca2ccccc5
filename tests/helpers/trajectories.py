"""Builders for the tests of the layer-wise analysis: settings from the schema defaults, label
tables, tiny models, waves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.config import defaults, settings_from


def section(**overrides) -> dict:
    """The ``trajectories`` section at the schema defaults; ``pwcca`` / ``reset_top`` dicts
    override keys of those subsections, other keywords top-level keys."""
    out = defaults()["trajectories"]
    for key, value in overrides.items():
        if key in ("pwcca", "reset_top"):
            out[key].update(value)
        else:
            out[key] = value
    return out


def sample_settings(**overrides):
    from speechneurons.trajectories.settings import SampleSettings

    return settings_from(SampleSettings, section(**overrides))


def pwcca_settings(**overrides):
    from speechneurons.trajectories.settings import PWCCASettings

    return settings_from(PWCCASettings, section(pwcca=overrides)["pwcca"])


def reset_settings(**overrides):
    from speechneurons.trajectories.settings import ResetTopSettings

    return settings_from(ResetTopSettings, section(reset_top=overrides)["reset_top"])


def label_table(rows: dict[str, list[tuple[str, str]]]) -> pd.DataFrame:
    """A frame-label table from utt_id -> [(phone, word) per frame]."""
    out = [(u, t, p, w, False) for u, frames in rows.items() for t, (p, w) in enumerate(frames)]
    return pd.DataFrame(out, columns=["utt_id", "frame", "phone", "word", "is_mid"])


def random_label_table(n_frames: dict[str, int], seed: int = 0) -> pd.DataFrame:
    """Frames in runs of 3 of random phones (some silence), words in runs of 9."""
    from speechneurons.phones import PHONES

    rng = np.random.default_rng(seed)
    rows = {}
    for u, T in n_frames.items():
        ph = np.repeat(rng.choice(list(PHONES[:6]) + ["sil"], size=T // 3 + 1), 3)[:T]
        wd = np.repeat(rng.choice(["a", "b", "c"], size=T // 9 + 1), 9)[:T]
        rows[u] = [(p, "" if p == "sil" else w) for p, w in zip(ph, wd)]
    return label_table(rows)


def tiny_model_dir(
    path: Path, layers: int = 2, hidden: int = 32, seed: int = 0, perturb: float = 0.0, model_type: str = "hubert"
) -> Path:
    """A random tiny model saved with save_pretrained (optionally perturbed so that no
    parameter is at its initial constant)."""
    import torch
    from transformers import AutoModel

    from tests.helpers.models import tiny_config

    torch.manual_seed(seed)
    model = AutoModel.from_config(tiny_config(model_type, layers=layers, hidden=hidden, ffn=2 * hidden, conv_dim=16))
    if perturb:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(perturb * torch.randn_like(p))
    model.save_pretrained(path)
    return path


def waves(lengths: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {u: (0.1 * rng.normal(size=n)).astype(np.float32) for u, n in lengths.items()}
