"""Builders for the tests of the layer-wise analysis: schema defaults, label tables, tiny models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[2]
SCHEMA = REPO / "schemas" / "trajectories.schema.yaml"


def _defaults(schema: dict):
    if schema.get("type") == "object" and "properties" in schema:
        return {k: _defaults(v) for k, v in schema["properties"].items()}
    return schema["default"]


def schema_defaults() -> dict:
    """The ``trajectories`` section with every key at its schema default."""
    return _defaults(yaml.safe_load(SCHEMA.read_text()))


def settings(**pwcca_or_reset):
    """TrajectoriesSettings at the schema defaults; keyword ``pwcca`` / ``reset_top`` dicts
    override keys of those subsections, other keywords top-level keys."""
    from speechneurons.trajectories.settings import TrajectoriesSettings

    section = schema_defaults()
    for key, value in pwcca_or_reset.items():
        if key in ("pwcca", "reset_top"):
            section[key].update(value)
        else:
            section[key] = value
    return TrajectoriesSettings.from_config(section)


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


def tiny_model_dir(path: Path, layers: int = 2, hidden: int = 32, seed: int = 0, perturb: float = 0.0) -> Path:
    """A random tiny HuBERT saved with save_pretrained (optionally perturbed so that no
    parameter is at its initial constant)."""
    import torch
    from transformers import HubertModel

    from speechneurons.trajectories._external import tiny_config

    torch.manual_seed(seed)
    model = HubertModel(tiny_config("hubert", layers=layers, hidden=hidden, ffn=2 * hidden, conv_dim=16))
    if perturb:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(perturb * torch.randn_like(p))
    model.save_pretrained(path)
    return path


def waves(lengths: dict[str, int], seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {u: (0.1 * rng.normal(size=n)).astype(np.float32) for u, n in lengths.items()}
