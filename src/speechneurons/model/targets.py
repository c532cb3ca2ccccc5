"""Frame targets of HuBERT pretraining: k-means cluster ids, one per model frame.

Iteration 1 clusters MFCC features: 13 cepstra (Kaldi MFCC, 25 ms window at the model's hop)
with deltas and delta-deltas, d_t = sum_{n=1..N} n (c_{t+n} - c_{t-n}) / (2 sum_{n=1..N} n^2)
(edges repeated), 39 dims, mean and variance normalised per utterance. Iteration 2 clusters
the hidden states of one transformer layer of the iteration-1 model. Frames are exactly the
model's frames (:class:`speechneurons.frames.FrameGrid`): window = receptive field, shift = hop,
count = ``grid.num_frames(len(wave))``. Targets are stored as a table ``utt_id, frame, target``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid

log = logging.getLogger(__name__)


def load_wave(path: str | Path, sample_rate: int) -> np.ndarray:
    """Mono float32 audio at ``sample_rate`` (the corpus stage's loader when present)."""
    try:
        from speechneurons.audio import load_audio  # the corpus stage's loader
    except ImportError:  # pragma: no cover - before the corpus stage landed
        load_audio = None
    if load_audio is not None:
        wave = load_audio(path, sample_rate)
        return np.asarray(wave[0] if isinstance(wave, tuple) else wave, dtype=np.float32)
    import soundfile as sf

    try:
        wave, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as exc:
        raise BadInputError(path, f"cannot read audio ({exc})", "Check the file or rebuild the corpus.") from exc
    wave = wave.mean(axis=1)
    if sr != sample_rate:
        import soxr

        wave = soxr.resample(wave, sr, sample_rate)
    return np.ascontiguousarray(wave, dtype=np.float32)


def fit_length(feats: np.ndarray, n_frames: int) -> np.ndarray:
    """Cut or edge-pad ``feats`` [T, d] to exactly ``n_frames`` rows."""
    if len(feats) >= n_frames:
        return feats[:n_frames]
    if len(feats) == 0:
        return np.zeros((n_frames, feats.shape[1]), dtype=feats.dtype)
    pad = np.repeat(feats[-1:], n_frames - len(feats), axis=0)
    return np.concatenate([feats, pad])


def mfcc(wave: np.ndarray, grid: FrameGrid, n_mfcc: int = 13) -> np.ndarray:
    """Kaldi MFCC [grid.num_frames(len(wave)), n_mfcc] on the model frame grid (no dither).

    Frame t starts at t * hop; the window is the receptive field (25 ms for the base stack),
    at least 25 ms; the last rows are edge-padded when a longer window yields fewer frames.
    """
    import kaldi_native_fbank as knf

    n_frames = grid.num_frames(len(wave))
    opts = knf.MfccOptions()
    opts.frame_opts.samp_freq = grid.sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.frame_shift_ms = 1000.0 * grid.hop / grid.sample_rate
    # window = the frame's receptive field, at least 25 ms (a mel filterbank needs a spectrum)
    opts.frame_opts.frame_length_ms = max(25.0, 1000.0 * grid.receptive_field / grid.sample_rate)
    opts.num_ceps = n_mfcc
    opts.mel_opts.num_bins = max(23, n_mfcc)
    computer = knf.OnlineMfcc(opts)
    computer.accept_waveform(grid.sample_rate, (np.asarray(wave, np.float32) * 32768.0).tolist())
    computer.input_finished()
    feats = np.array([computer.get_frame(i) for i in range(computer.num_frames_ready)], dtype=np.float32)
    return fit_length(feats.reshape(-1, n_mfcc), n_frames)


def deltas(feats: np.ndarray, window: int = 2) -> np.ndarray:
    """Regression deltas d_t = sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2), edges repeated."""
    if len(feats) == 0:
        return feats.copy()
    padded = np.concatenate([np.repeat(feats[:1], window, 0), feats, np.repeat(feats[-1:], window, 0)])
    T = len(feats)
    num = sum(
        n * (padded[window + n : window + n + T] - padded[window - n : window - n + T]) for n in range(1, window + 1)
    )
    return (num / (2 * sum(n * n for n in range(1, window + 1)))).astype(feats.dtype)


def cmvn(feats: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Per-utterance mean and variance normalisation: (x - mean) / (std + eps)."""
    if len(feats) == 0:
        return feats
    return ((feats - feats.mean(0)) / (feats.std(0) + eps)).astype(np.float32)


def mfcc_features(wave: np.ndarray, grid: FrameGrid, n_mfcc: int = 13, normalise: bool = True) -> np.ndarray:
    """MFCC + deltas + delta-deltas [num_frames, 3 * n_mfcc] on the model frame grid."""
    c = mfcc(wave, grid, n_mfcc)
    d = deltas(c)
    feats = np.concatenate([c, d, deltas(d)], axis=1)
    return cmvn(feats) if normalise else feats


def fit_kmeans(features: Sequence[np.ndarray], n_clusters: int, seed: int, max_frames: int = 200_000):
    """MiniBatchKMeans on at most ``max_frames`` frames drawn (seeded) from all utterances."""
    from sklearn.cluster import MiniBatchKMeans

    X = np.concatenate([f for f in features if len(f)], axis=0).astype(np.float32)
    rng = np.random.default_rng(seed)
    if len(X) > max_frames:
        X = X[np.sort(rng.choice(len(X), max_frames, replace=False))]
    if len(X) < n_clusters:
        raise ValueError(f"only {len(X)} frames for {n_clusters} clusters: lower the cluster count")
    km = MiniBatchKMeans(
        n_clusters=n_clusters,
        random_state=seed,
        batch_size=min(10_000, len(X)),
        n_init=3,
        max_iter=100,
        max_no_improvement=20,
    )
    km.fit(X)
    return km


def assign(kmeans, features: Iterable[np.ndarray]) -> list[np.ndarray]:
    """Nearest cluster of every frame."""
    return [
        kmeans.predict(f.astype(np.float32)).astype(np.int64) if len(f) else np.zeros(0, np.int64) for f in features
    ]


def targets_table(utt_ids: Sequence[str], labels: Sequence[np.ndarray]) -> pd.DataFrame:
    """Long table ``utt_id, frame, target`` (one row per model frame)."""
    return pd.DataFrame(
        {
            "utt_id": np.repeat(np.asarray(utt_ids, dtype=object), [len(x) for x in labels]),
            "frame": np.concatenate([np.arange(len(x)) for x in labels]).astype(np.int32),
            "target": np.concatenate(list(labels)).astype(np.int32),
        }
    )


def targets_from_table(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """utt_id -> int64 targets in frame order."""
    df = df.sort_values(["utt_id", "frame"], kind="stable")
    return {u: g["target"].to_numpy(np.int64) for u, g in df.groupby("utt_id", sort=False)}


def cluster_stats(labels: Sequence[np.ndarray], n_clusters: int) -> dict:
    """Chance 1/K, majority-class rate and the number of clusters used."""
    counts = np.bincount(np.concatenate(list(labels)), minlength=n_clusters)
    return {
        "n_clusters": int(n_clusters),
        "n_frames": int(counts.sum()),
        "chance": 1.0 / n_clusters,
        "majority_rate": float(counts.max() / max(counts.sum(), 1)),
        "clusters_used": int((counts > 0).sum()),
    }


def mfcc_targets(
    waves: Sequence[np.ndarray],
    grid: FrameGrid,
    n_clusters: int,
    seed: int,
    n_mfcc: int = 13,
    max_frames: int = 200_000,
    fit: Sequence[bool] | None = None,
) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """Iteration-1 targets: k-means of normalised MFCC + deltas, fitted on the utterances where
    ``fit`` is True (all when None) and assigned to every utterance. Returns the labels, the
    cluster centres and the statistics of the fitted utterances."""
    feats = [mfcc_features(w, grid, n_mfcc) for w in waves]
    return _cluster(feats, n_clusters, seed, max_frames, fit, {"source": "mfcc"})


def _cluster(feats, n_clusters, seed, max_frames, fit, info) -> tuple[list[np.ndarray], np.ndarray, dict]:
    fit = [True] * len(feats) if fit is None else list(fit)
    km = fit_kmeans([f for f, use in zip(feats, fit, strict=True) if use], n_clusters, seed, max_frames)
    labels = assign(km, feats)
    fitted = [x for x, use in zip(labels, fit, strict=True) if use]
    stats = {**info, "inertia": float(km.inertia_), **cluster_stats(fitted, n_clusters)}
    stats |= {"n_fit_utterances": int(sum(fit)), "n_utterances": len(feats)}
    return labels, km.cluster_centers_.astype(np.float32), stats


def layer_features(
    model, waves: Sequence[np.ndarray], layer: int, device=None, max_batch_s: float = 60.0
) -> list[np.ndarray]:
    """Hidden states of transformer layer ``layer`` (0 = after the feature projection)."""
    import torch

    device = device or torch.device("cpu")
    model.eval().to(device)
    out: list[np.ndarray] = []
    with torch.inference_mode():
        for w in waves:
            x = torch.from_numpy(np.asarray(w, np.float32))[None].to(device)
            hs = model(x, output_hidden_states=True).hidden_states
            if not 0 <= layer < len(hs):
                raise ValueError(f"layer {layer} out of range: the model has layers 0..{len(hs) - 1}")
            out.append(hs[layer][0].float().cpu().numpy())
    return out


def layer_targets(
    model,
    waves: Sequence[np.ndarray],
    grid: FrameGrid,
    layer: int,
    n_clusters: int,
    seed: int,
    device=None,
    max_frames: int = 200_000,
    fit: Sequence[bool] | None = None,
) -> tuple[list[np.ndarray], np.ndarray, dict]:
    """Later-iteration targets: k-means of a layer's hidden states, fitted on the utterances
    where ``fit`` is True and assigned to every utterance (one label per model frame)."""
    feats = [
        fit_length(f, grid.num_frames(len(w)))
        for f, w in zip(layer_features(model, waves, layer, device), waves, strict=True)
    ]
    return _cluster(feats, n_clusters, seed, max_frames, fit, {"source": f"layer-{layer}"})
