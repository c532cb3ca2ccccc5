"""The bounded-memory activation dump.

Dump (:func:`dump_activations`): one forward pass over the selected utterances writes, per
layer l and subset s, one ``.npy`` (path given by the caller): a float16 array [n_s, D_l] whose
row r is the FFN site h = act(fc1(x)) of the frame with ``row == r``. The activations do not
depend on batching: each utterance's front-end runs alone, unpadded, and only the transformer
runs on padded batches with the attention mask (:mod:`speechneurons.model.forward`), so a
row is what the utterance gives when forwarded alone. Utterances are grouped by length (about
``batch_seconds`` of audio per batch, longest at most ``max_pad_ratio`` x shortest), which only
sets speed and memory. Each .npy is created with ``np.lib.format.open_memmap`` under a
temporary name and filled with positioned writes (``os.pwrite``) of each utterance's contiguous
rows, so memory holds one batch whatever the corpus size; the files are renamed into place at
the end (:func:`bound_heap` keeps the allocator from fragmenting the heap, so the peak RSS stays
flat as the corpus grows).

The rows to store come from :mod:`speechneurons.activations.selection`; the index tables that
describe them from :mod:`speechneurons.activations.index`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.activations.selection import SUBSETS
from speechneurons.audio import audio_info, load_audio
from speechneurons.errors import BadInputError
from speechneurons.io import atomic_path, remove_stale_temporaries

log = logging.getLogger(__name__)

SKIPPED_COLUMNS = ["utt_id", "path", "reason"]


# ----------------------------------------------------------------------------- selection


# ----------------------------------------------------------------------------- batching


@dataclass
class Utterance:
    utt_id: str
    path: str
    num_samples: int
    n_label_frames: int
    # per subset: (frames in the utterance, first row); rows are contiguous
    rows: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)


# ----------------------------------------------------------------------------- dump


def bound_heap(threshold: int = 128 * 1024) -> bool:
    """Fix glibc's mmap threshold (mallopt M_MMAP_THRESHOLD) so that large tensors are always
    mmap-ed and returned to the system when freed. Without it glibc raises the threshold
    dynamically and the heap fragments: peak RSS then creeps up with the number of batches.
    Process-wide; returns False where it is not glibc (nothing done)."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(-3, int(threshold)))  # M_MMAP_THRESHOLD = -3
    except (OSError, AttributeError):
        return False


@dataclass
class DumpReport:
    n_utterances: int
    audio_seconds: float
    wall_seconds: float
    rows: dict[str, int]
    skipped: pd.DataFrame

    @property
    def audio_seconds_per_second(self) -> float:
        return self.audio_seconds / self.wall_seconds if self.wall_seconds else float("nan")


def _plan(selection: pd.DataFrame, manifest: pd.DataFrame, loaded, on_bad_input: str):
    """Utterances to forward, and the skipped ones (audio shorter than one frame)."""
    paths = dict(zip(manifest["utt_id"].astype(str), manifest["audio_path"].astype(str)))
    selection = selection.copy()
    selection["utt_id"] = selection["utt_id"].astype(str)
    utts: dict[str, Utterance] = {}
    skipped = []
    for utt_id, path in paths.items():
        info = audio_info(path)
        if loaded.num_frames(info.frames) == 0:
            skipped.append(
                (utt_id, path, f"audio shorter than one frame ({info.frames} samples < {loaded.grid.receptive_field})")
            )
    skipped_ids = {s[0] for s in skipped}
    for (utt_id, subset), part in selection.groupby(["utt_id", "subset"], sort=False):
        if utt_id not in paths:
            raise BadInputError(
                utt_id,
                "selected frames of an utterance that is not in the manifest",
                "Re-run select_frames on the current manifest",
            )
        if utt_id not in utts:
            info = audio_info(paths[utt_id])
            utts[utt_id] = Utterance(utt_id, paths[utt_id], info.frames, int(part["n_label_frames"].iloc[0]))
        rows = part["row"].to_numpy()
        if not np.array_equal(rows, np.arange(rows[0], rows[0] + len(rows))):
            raise ValueError(f"selection rows of {utt_id}/{subset} are not contiguous: was the selection sorted?")
        utts[utt_id].rows[subset] = (part["frame"].to_numpy(), int(rows[0]))
    for u in utts.values():
        n_model = loaded.num_frames(u.num_samples)
        if u.utt_id in skipped_ids or n_model != u.n_label_frames:
            raise BadInputError(
                u.path,
                f"the model gives {n_model} frames for {u.num_samples} samples but the frame labels of "
                f"{u.utt_id} have {u.n_label_frames}",
                "The labels were computed on another frame grid: set the config's frames section to "
                "the model's conv stack and re-run the labels (or re-run them on the current audio)",
            )
    if skipped:
        msg = f"{len(skipped)} audio file(s) shorter than one frame, e.g. {skipped[0][1]}"
        if on_bad_input != "skip":
            raise BadInputError(
                skipped[0][1],
                "audio shorter than one frame (no model frame)",
                "Remove it from the corpus or set on_bad_input: skip",
            )
        log.warning("skipping %s", msg)
    return list(utts.values()), pd.DataFrame(skipped, columns=SKIPPED_COLUMNS)


class _NpyWriter:
    """A float16 .npy [n, D] created with open_memmap, filled with positioned writes."""

    def __init__(self, path: Path, n: int, d: int):
        self.path, self.n, self.d = path, n, d
        if n == 0:
            np.save(path, np.zeros((0, d), dtype=np.float16))
            self.fd = None
            return
        arr = np.lib.format.open_memmap(path, mode="w+", dtype=np.float16, shape=(n, d))
        self.offset = int(arr.offset)
        del arr
        self.fd = os.open(path, os.O_WRONLY)

    def write(self, row0: int, block: np.ndarray) -> None:
        block = np.ascontiguousarray(block, dtype=np.float16)
        assert block.shape[1] == self.d and row0 + len(block) <= self.n
        view, pos = memoryview(block).cast("B"), self.offset + row0 * self.d * 2
        while len(view):  # pwrite may write less than asked
            done = os.pwrite(self.fd, view, pos)
            view, pos = view[done:], pos + done

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class _Waves(Sequence):
    """Audio files read when their batch is formed and forgotten after it (bounded memory)."""

    def __init__(self, paths: Sequence[str], sample_rate: int):
        self.paths, self.sample_rate, self.cache = list(paths), sample_rate, {}

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i):
        if i not in self.cache:
            self.cache[i] = load_audio(self.paths[i], self.sample_rate)
        return self.cache[i]

    def forget(self, indices) -> None:
        for i in indices:
            self.cache.pop(i, None)


def dump_activations(
    loaded,
    manifest: pd.DataFrame,
    selection: pd.DataFrame,
    arrays: Mapping[tuple[int, str], str | Path],
    *,
    batch_seconds: float = 60.0,
    max_pad_ratio: float = 1.2,
    on_bad_input: str = "error",
    progress: bool = True,
) -> DumpReport:
    """Forward the selected utterances once and write the float16 array of every (layer,
    subset) key of ``arrays`` to its path (see module doc); every layer has the same subsets
    (one or both). ``loaded`` is a
    :class:`~speechneurons.model.registry.LoadedModel`; the skipped utterances are in the
    report."""
    import torch
    from tqdm import tqdm

    from speechneurons.model.ffn import capture_ffn
    from speechneurons.model.forward import encode, front_end_batches

    t0 = time.perf_counter()
    layers = sorted({int(layer) for layer, _ in arrays})
    bad = [layer for layer in layers if not 1 <= layer <= loaded.num_layers]
    if bad:
        raise ValueError(f"activations.layers {bad} do not exist: the model has layers 1..{loaded.num_layers}")
    subsets = [s for s in SUBSETS if any(subset == s for _, subset in arrays)]  # those written
    missing = sorted({(layer, s) for layer in layers for s in subsets} - set(arrays))
    if missing:
        raise ValueError(f"dump_activations needs a path for every layer of each subset it writes; missing {missing}")
    # A dump killed mid-way (kill -9, a cluster's time limit) leaves its hidden temporary arrays
    # behind, gigabytes with a base model on LibriSpeech: this job owns the paths, so clear them.
    stale = [p for path in arrays.values() for p in remove_stale_temporaries(path)]
    if stale:
        log.info("removed %d temporary file(s) of an interrupted dump, e.g. %s", len(stale), stale[0])
    utts, skipped = _plan(selection, manifest, loaded, on_bad_input)
    n_rows = {s: int((selection["subset"] == s).sum()) for s in SUBSETS}
    sr = loaded.grid.sample_rate
    with contextlib.ExitStack() as stack:
        writers: dict[tuple[int, str], _NpyWriter] = {}
        for (layer, subset), path in sorted(arrays.items()):
            tmp = stack.enter_context(atomic_path(path))
            writers[layer, subset] = _NpyWriter(tmp, n_rows[subset], loaded.ffn_widths[layer - 1])
            stack.callback(writers[layer, subset].close)
        total_s = sum(u.num_samples for u in utts) / sr
        bar = tqdm(
            total=total_s,
            unit="s",
            desc="audio seconds",
            disable=not progress,
            mininterval=5,
            bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}]",
        )
        waves = _Waves([u.path for u in utts], sr)
        max_frames = int(batch_seconds * sr / loaded.grid.hop)
        num_samples = [u.num_samples for u in utts]
        with torch.inference_mode(), capture_ffn(loaded.model, layers) as captured:
            for batch in front_end_batches(loaded, waves, max_frames, max_pad_ratio, num_samples):
                encode(loaded, batch)  # front-end per utterance, transformer batched with the mask
                group = [utts[i] for i in batch.index]
                waves.forget(batch.index)
                bar.update(sum(u.num_samples for u in group) / sr)
                # rows of this batch, every subset written at once: (batch item, frame) -> (subset, row0, n)
                bi, fi, spans = [], [], []
                for subset in subsets:
                    for b, u in enumerate(group):
                        if subset in u.rows:
                            frames, row0 = u.rows[subset]
                            bi.append(np.full(len(frames), b))
                            fi.append(frames)
                            spans.append((subset, row0, len(frames)))
                if not spans:
                    continue
                n_frames = captured[layers[0]].shape[1]
                flat = torch.from_numpy(np.concatenate(bi) * n_frames + np.concatenate(fi)).to(loaded.device)
                for layer in layers:
                    h = captured[layer]
                    block = torch.index_select(h.reshape(-1, h.shape[-1]), 0, flat).to(torch.float16).cpu().numpy()
                    start = 0
                    for subset, row0, n in spans:
                        writers[layer, subset].write(row0, block[start : start + n])
                        start += n
        bar.close()
        for w in writers.values():
            w.close()
    wall = time.perf_counter() - t0
    report = DumpReport(len(utts), total_s, wall, n_rows, skipped)
    log.info(
        "dumped %d utterances (%.1f s of audio) in %.1f s: %.1f audio s/s; rows %s; %d skipped",
        len(utts),
        total_s,
        wall,
        report.audio_seconds_per_second,
        n_rows,
        len(skipped),
    )
    return report
