"""Frozen features for the probes: which frames and utterances are probed, and the hidden states
of chosen transformer layers (layer L = output of layer L, ``hidden_states[L]`` of a Hugging
Face model) for every model variant that is probed.

Frame-level sets are subsampled (seeded) to at most ``max_frames_train`` / ``max_frames_test``
rows per task before the forward passes, so memory is bounded whatever the corpus size and
every model variant is scored on exactly the same items.

Model variants that differ from one model only by silenced FFN neurons (pruned or erased
neurons: silencing neuron j is exactly what deleting it does, see
:mod:`speechneurons.model.ffn`) share everything before the transformer: each utterance's
front-end runs once, then one transformer pass per variant with its neurons left out of the
FFN weights (the same function as masking them, cheaper by the share removed) and no layer above
the highest one asked for (:mod:`speechneurons.model.forward`, which also makes the result
independent of batching).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from speechneurons.audio import audio_info
from speechneurons.errors import BadInputError
from speechneurons.io import load_npz, write_npz
from speechneurons.phones import PHONE_TO_TYPE, is_speech_phone

if TYPE_CHECKING:  # torch is imported where it is used: the workflow's rules import this module
    import torch

log = logging.getLogger(__name__)

TASKS = ("phone", "sid", "gender", "f0")
FRAME_TASKS = ("phone", "f0")
SKIPPED_COLUMNS = ["utt_id", "path", "reason"]


@dataclass(frozen=True)
class FrameSettings:
    """Which frames the frame-level probes use: keys of the ``probes`` config section
    (schemas/probes.schema.yaml) and the seed of the subsample."""

    max_frames_train: int
    max_frames_test: int
    seed: int


def probe_frames(
    manifest: pd.DataFrame, labels: pd.DataFrame, pitch: pd.DataFrame | None, settings: FrameSettings
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


def probe_utterances(manifest: pd.DataFrame) -> pd.DataFrame:
    """The utterances the probes use (train and test splits), ordered by utt_id: row i of every
    utterance-level feature matrix."""
    return manifest[manifest["split"].isin(["train", "test"])].sort_values("utt_id").reset_index(drop=True)


@dataclass
class Features:
    """Hidden states of the chosen layers: rows of ``frames`` and utterance means (rows of ``utts``)."""

    frames: pd.DataFrame
    """The probed frames (see :func:`probe_frames`) of the utterances that were not skipped."""
    utts: pd.DataFrame
    """The probed utterances that were not skipped."""
    frame_feats: dict[int, np.ndarray] = field(default_factory=dict)
    """layer -> float16 [len(frames), H]."""
    utt_feats: dict[int, np.ndarray] = field(default_factory=dict)
    """layer -> float32 [len(utts), H]: the mean over every frame of the utterance."""
    skipped: list[dict] = field(default_factory=list)
    """Utterances left out with on_bad_input 'skip': utt_id, path, reason."""


class Variant(NamedTuple):
    """A model variant to probe: the loaded model with some FFN neurons silenced and, optionally,
    any other change of its transformer pass."""

    name: str
    masks: Mapping[int, Sequence[int]] = {}
    """layer -> neurons silenced in it (none: the model as it is)."""
    edit: Callable[[torch.nn.Module], contextlib.AbstractContextManager] | None = None
    """A context manager factory applied to the model around its transformer passes (e.g. hooks
    that splice a sparse autoencoder's reconstruction into a layer); removed on exit."""
    edit_layer: int | None = None
    """The lowest layer ``edit`` changes (None: any, from layer 1). The layers below it are not
    run again: their outputs come from the pass of an unchanged variant of the same batch."""

    def first_changed(self) -> int | None:
        """The lowest layer this variant changes; None for the model as it is."""
        layers = [int(layer) for layer, idx in self.masks.items() if len(idx)]
        if self.edit is not None:
            layers.append(1 if self.edit_layer is None else int(self.edit_layer))
        return min(layers) if layers else None


def usable_utterances(loaded, utts: pd.DataFrame, on_bad_input: str) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """Rows of ``utts`` whose audio gives at least one model frame, their sample counts, and
    the skipped ones.

    Unreadable audio or audio shorter than one frame raises BadInputError naming the file, or
    with ``on_bad_input='skip'`` is left out and listed (utt_id, path, reason)."""

    keep, samples, skipped = [], [], []
    for i, row in enumerate(utts.itertuples(index=False)):
        try:
            n = audio_info(row.audio_path).frames
            if loaded.num_frames(n) == 0:
                raise BadInputError(
                    row.audio_path,
                    f"audio shorter than one model frame ({n} samples < {loaded.grid.receptive_field})",
                    "Remove it from the corpus (or set on_bad_input: skip)",
                )
        except BadInputError as exc:
            if on_bad_input != "skip":
                raise
            log.warning("skipped %s: %s", row.utt_id, exc)
            skipped.append({"utt_id": row.utt_id, "path": str(row.audio_path), "reason": exc.problem})
            continue
        keep.append(i)
        samples.append(n)
    return np.asarray(keep, dtype=np.int64), np.asarray(samples, dtype=np.int64), skipped


def extract_features(
    loaded,
    manifest: pd.DataFrame,
    frames: pd.DataFrame,
    layers: Iterable[int],
    variants: Sequence[Variant] = (Variant("model"),),
    *,
    batch_seconds: float = 60.0,
    max_pad_ratio: float = 1.5,
    on_bad_input: str = "error",
    progress: bool = True,
) -> dict[str, Features]:
    """Hidden states of ``layers`` for every variant of the loaded model: the rows of ``frames``
    and the mean over all frames of each probed utterance.

    Each utterance's front-end runs once, alone; the transformer runs once per variant on
    padded batches of about ``batch_seconds`` of audio (the results do not depend on the
    batching), up to the highest layer asked for. A variant's silenced neurons are left out of
    its pass (:func:`speechneurons.model.ffn.without_ffn`, the same function as masking them,
    to float rounding) unless it has an ``edit``, which sees them masked. The passes over a
    batch share the feature projection and positional embedding, and a variant reuses the
    outputs an unchanged variant's pass gave for the layers below its first change
    (:class:`speechneurons.model.forward.SharedPasses`: the same tensors, so the same numbers).
    Returns variant name -> :class:`Features`.
    """
    import torch

    with torch.inference_mode():
        return _extract_features(
            loaded, manifest, frames, layers, variants, batch_seconds, max_pad_ratio, on_bad_input, progress
        )


def _extract_features(loaded, manifest, frames, layers, variants, batch_seconds, max_pad_ratio, on_bad_input, progress):
    import torch
    from tqdm import tqdm

    from speechneurons.audio import load_audio
    from speechneurons.model.ffn import mask_ffn, without_ffn
    from speechneurons.model.forward import SharedPasses, encode, front_end_batches

    layers = sorted({int(layer) for layer in layers})
    if layers and not 0 <= layers[0] <= layers[-1] <= loaded.num_layers:
        raise ValueError(f"layers {layers} requested but the model has layers 1..{loaded.num_layers}")
    utts_all = probe_utterances(manifest)
    keep, num_samples, skipped = usable_utterances(loaded, utts_all, on_bad_input)
    utts = utts_all.iloc[keep].reset_index(drop=True)
    frames = frames[frames["utt_id"].isin(set(utts["utt_id"]))].reset_index(drop=True)
    starts = frames.groupby("utt_id", sort=False).indices  # utt_id -> its rows of ``frames``
    hidden_size = int(loaded.model.config.hidden_size)
    out = {
        v.name: Features(
            frames,
            utts,
            {layer: np.zeros((len(frames), hidden_size), np.float16) for layer in layers},
            {layer: np.zeros((len(utts), hidden_size), np.float32) for layer in layers},
            skipped,
        )
        for v in variants
    }
    dropped = np.zeros(len(frames), dtype=bool)
    waves = _LazyWaves(utts["audio_path"].tolist(), loaded.grid.sample_rate, load_audio)
    max_frames = int(batch_seconds * loaded.grid.sample_rate / loaded.grid.hop)
    bar = tqdm(total=len(utts), unit="utt", desc="features", disable=not progress, mininterval=5)
    # unchanged variants first: the others reuse their layers below their own first change
    ordered = sorted(variants, key=lambda v: v.first_changed() is not None)
    for batch in front_end_batches(loaded, waves, max_frames, max_pad_ratio, num_samples):
        rows, frame_idx = [], []
        for b, i in enumerate(batch.index):
            r = starts.get(utts["utt_id"].iat[i], np.zeros(0, np.int64))
            f = frames["frame"].to_numpy()[r]
            beyond = f >= batch.lengths[b]
            if beyond.any():
                log.warning(
                    "%s: %d labelled frames beyond the model's %d frames dropped",
                    utts["utt_id"].iat[i],
                    beyond.sum(),
                    batch.lengths[b],
                )
                dropped[r[beyond]] = True
            rows.append(r[~beyond])
            frame_idx.append(f[~beyond])
        shared = SharedPasses()  # what the variants' passes over this batch have in common
        for v in ordered:
            silence = mask_ffn(loaded.model, v.masks) if v.edit else without_ffn(loaded.model, v.masks)
            with silence, v.edit(loaded.model) if v.edit else contextlib.nullcontext():
                hidden = encode(
                    loaded, batch, upto=layers[-1] if layers else 0, shared=shared, first_changed=v.first_changed()
                ).hidden_states
            feats = out[v.name]
            for layer in layers:
                h = hidden[layer].float()
                for b, i in enumerate(batch.index):
                    own = h[b, : batch.lengths[b]]
                    feats.utt_feats[layer][i] = own.mean(dim=0).cpu().numpy()
                    if len(rows[b]):
                        idx = torch.as_tensor(frame_idx[b], dtype=torch.long, device=own.device)
                        feats.frame_feats[layer][rows[b]] = own.index_select(0, idx).cpu().numpy()
        waves.forget(batch.index)
        bar.update(len(batch.index))
    bar.close()
    if dropped.any():
        for feats in out.values():
            feats.frames = frames[~dropped].reset_index(drop=True)
            feats.frame_feats = {layer: a[~dropped] for layer, a in feats.frame_feats.items()}
    return out


class _LazyWaves(Sequence):
    """Audio files loaded when first indexed and forgotten after their batch (bounded memory)."""

    def __init__(self, paths: Sequence[str], sample_rate: int, load):
        self.paths, self.sample_rate, self.load = list(paths), sample_rate, load
        self.cache: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        if i not in self.cache:
            self.cache[i] = self.load(self.paths[i], self.sample_rate)
        return self.cache[i]

    def forget(self, indices: Iterable[int]) -> None:
        for i in indices:
            self.cache.pop(i, None)


def save_features(features: Features, path: str | Path) -> None:
    """The feature matrices of one variant as an .npz (written atomically); the frame and
    utterance tables are saved once beside them (they are the same for every variant)."""

    arrays = {f"frames_{layer}": a for layer, a in features.frame_feats.items()}
    arrays |= {f"utts_{layer}": a for layer, a in features.utt_feats.items()}
    arrays["frame_keys"] = (features.frames["utt_id"] + ":" + features.frames["frame"].astype(str)).to_numpy(str)
    arrays["utt_ids"] = features.utts["utt_id"].to_numpy(str)
    write_npz(path, arrays, compressed=False)


def load_features(path: str | Path, frames: pd.DataFrame, utts: pd.DataFrame) -> Features:
    """Features of one variant saved by :func:`save_features`, with the rows of the frame and
    utterance tables it holds (checked against the keys saved with it)."""

    with load_npz(path) as npz:
        keys = set(npz.files)
        frame_keys, utt_ids = npz["frame_keys"], npz["utt_ids"]
        frames = frames.set_index(frames["utt_id"] + ":" + frames["frame"].astype(str)).reindex(frame_keys)
        utts = utts.set_index("utt_id", drop=False).reindex(utt_ids)
        if frames["utt_id"].isna().any() or utts["utt_id"].isna().any():
            raise BadInputError(
                path,
                "holds rows that are not in the probe tables beside it",
                "Re-run the feature extraction of the experiments stage",
            )
        layers = sorted(int(k.removeprefix("frames_")) for k in keys if k.startswith("frames_"))
        return Features(
            frames.reset_index(drop=True),
            utts.reset_index(drop=True),
            {layer: npz[f"frames_{layer}"] for layer in layers},
            {layer: npz[f"utts_{layer}"] for layer in layers},
        )
