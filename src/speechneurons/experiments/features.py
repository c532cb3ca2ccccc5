"""Frozen features for the probes: which frames are probed, and the hidden states of chosen
transformer layers (layer L = output of layer L, ``hidden_states[L]`` of a Hugging Face model)
from one forward pass per utterance.

Frame-level sets are subsampled (seeded) to at most ``max_frames_train`` / ``max_frames_test``
rows per task before the forward passes, so memory is bounded whatever the corpus size and
every model variant is scored on exactly the same test items.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from speechneurons.phones import PHONE_TO_TYPE, is_speech_phone

if TYPE_CHECKING:
    from speechneurons.experiments.probes import ProbeSettings

log = logging.getLogger(__name__)


TASKS = ("phone", "sid", "gender", "f0")


FRAME_TASKS = ("phone", "f0")


def probe_frames(
    manifest: pd.DataFrame, labels: pd.DataFrame, pitch: pd.DataFrame | None, settings: ProbeSettings
) -> pd.DataFrame:
    """The frames the frame-level probes use: ``utt_id, frame, split, speaker, gender, phone,
    phone_type, f0_hz, pitch_bin, use_phone, use_f0``; at most the configured number per task
    and split, sampled with a seeded generator (the same rows for every model variant)."""
    utts = manifest[manifest["split"].isin(["train", "test"])][["utt_id", "split", "speaker", "gender"]]
    df = labels[["utt_id", "frame", "phone"]].merge(utts, on="utt_id", how="inner")
    if pitch is not None:
        df = df.merge(pitch[["utt_id", "frame", "f0_hz", "voiced", "pitch_bin"]], on=["utt_id", "frame"], how="left")
    else:
        df = df.assign(f0_hz=np.nan, voiced=False, pitch_bin=-1)
    df["voiced"] = df["voiced"].fillna(False).astype(bool)
    df["pitch_bin"] = df["pitch_bin"].fillna(-1).astype(int)
    df["phone_type"] = df["phone"].map(PHONE_TO_TYPE).fillna("none")
    eligible = {
        "phone": df["phone"].map(is_speech_phone).to_numpy(bool),
        "f0": (df["voiced"] & (df["f0_hz"].fillna(0) > 0)).to_numpy(bool),
    }
    df = df.reset_index(drop=True)
    for t, task in enumerate(FRAME_TASKS):
        use = np.zeros(len(df), dtype=bool)
        for s, (split, cap) in enumerate([("train", settings.max_frames_train), ("test", settings.max_frames_test)]):
            rows = np.flatnonzero(eligible[task] & (df["split"] == split).to_numpy())
            if len(rows) > cap:
                rng = np.random.default_rng([settings.seed, t, s])
                rows = np.sort(rng.choice(rows, size=cap, replace=False))
            use[rows] = True
        df[f"use_{task}"] = use
    df = df[df["use_phone"] | df["use_f0"]].drop(columns="voiced")
    return df.sort_values(["utt_id", "frame"]).reset_index(drop=True)


@dataclass
class Features:
    """Hidden states of the chosen layers: frames (rows of ``frames``) and utterance means."""

    frames: pd.DataFrame
    utts: pd.DataFrame
    frame_feats: dict[int, np.ndarray] = field(default_factory=dict)
    utt_feats: dict[int, np.ndarray] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)


def hf_hidden_states(model, wav: np.ndarray, device, normalize: bool = False) -> tuple[torch.Tensor, ...]:
    """All hidden states ([T, H] each; index L = output of layer L) of a Hugging Face model;
    ``normalize``: zero-mean unit-variance input (models whose feature extractor expects it)."""
    wav = np.asarray(wav, dtype=np.float32)
    if normalize:
        from speechneurons.model.registry import normalize_wave

        wav = normalize_wave(wav)
    x = torch.from_numpy(np.ascontiguousarray(wav))[None].to(device)
    out = model(x, output_hidden_states=True)
    return tuple(h[0] for h in out.hidden_states)


@torch.no_grad()
def extract_features(
    model,
    manifest: pd.DataFrame,
    frames: pd.DataFrame,
    layers: Iterable[int],
    device="cpu",
    load_audio: Callable[[str], np.ndarray] | None = None,
    hidden_states: Callable = hf_hidden_states,
    normalize: bool = False,
    on_bad_input: str = "error",
) -> Features:
    """One forward pass per train/test utterance; keep the selected frames and the mean over
    all frames of each utterance, for every layer in ``layers`` (stored float16).

    An unusable audio file raises BadInputError, or with ``on_bad_input='skip'`` the utterance
    is left out and listed in ``Features.skipped`` (utt_id, path, reason)."""
    from speechneurons.errors import BadInputError

    if load_audio is None:
        from speechneurons.audio import load_audio
    layers = sorted({int(layer) for layer in layers})
    utts = manifest[manifest["split"].isin(["train", "test"])].sort_values("utt_id").reset_index(drop=True)
    by_utt = {utt: rows for utt, rows in frames.groupby("utt_id", sort=False)}  # noqa: C416 (a GroupBy has .keys)
    frame_parts = {layer: [] for layer in layers}
    utt_feats = {layer: [] for layer in layers}
    kept_rows, kept_utts, skipped = [], [], []
    model.eval()
    for i, row in enumerate(utts.itertuples(index=False)):
        try:
            wav = load_audio(row.audio_path)
            if len(wav) == 0 or (hasattr(model, "config") and _too_short(model, len(wav))):
                raise BadInputError(
                    row.audio_path,
                    "audio shorter than one model frame",
                    "Remove it from the corpus (or set on_bad_input: skip)",
                )
        except BadInputError as exc:
            if on_bad_input != "skip":
                raise
            log.warning("skipped %s: %s", row.utt_id, exc)
            skipped.append({"utt_id": row.utt_id, "path": str(row.audio_path), "reason": exc.problem})
            continue
        kept_utts.append(i)
        hs = hidden_states(model, wav, device, normalize)
        if max(layers) >= len(hs):
            raise ValueError(f"layer {max(layers)} requested but the model has {len(hs) - 1} layers")
        sel = by_utt.get(row.utt_id)
        n_frames = hs[0].shape[0]
        if sel is not None:
            ok = sel["frame"].to_numpy() < n_frames
            if not ok.all():
                log.warning(
                    "%s: %d labelled frames beyond the model's %d frames dropped", row.utt_id, (~ok).sum(), n_frames
                )
            sel = sel[ok]
            kept_rows.append(sel.index.to_numpy())
            idx = torch.as_tensor(sel["frame"].to_numpy(np.int64).copy(), device=hs[0].device)
        for layer in layers:
            h = hs[layer].float()
            utt_feats[layer].append(h.mean(dim=0).cpu().numpy())
            if sel is not None:
                frame_parts[layer].append(h.index_select(0, idx).cpu().numpy().astype(np.float16))
        if (i + 1) % 50 == 0:
            log.info("features: %d/%d utterances", i + 1, len(utts))
    rows = np.concatenate(kept_rows) if kept_rows else np.zeros(0, np.int64)
    feats = Features(
        frames=frames.loc[rows].reset_index(drop=True),
        utts=utts.iloc[kept_utts].reset_index(drop=True),
        skipped=skipped,
    )
    for layer in layers:
        dim = utt_feats[layer][0].shape[0] if utt_feats[layer] else 0
        feats.frame_feats[layer] = (
            np.concatenate(frame_parts[layer]) if frame_parts[layer] else np.zeros((0, dim), np.float16)
        )
        feats.utt_feats[layer] = np.stack(utt_feats[layer]) if utt_feats[layer] else np.zeros((0, dim))
    return feats


def _too_short(model, n_samples: int) -> bool:
    from speechneurons.frames import num_frames

    cfg = model.config
    return num_frames(n_samples, cfg.conv_kernel, cfg.conv_stride) == 0
