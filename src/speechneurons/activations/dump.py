"""Which frames to dump, the bounded-memory activation dump, and its index.

Selection (:func:`select_frames`): two subsets of (utt_id, frame) rows of the frame labels,
each ordered by (manifest order of the utterance, frame) and numbered ``row`` = 0..n-1:

- ``mid``: every middle frame (``is_mid``) of a speech phone (the 39 phones; no sil/spn), for
  the property statistics;
- ``sample``: a uniform sample without replacement of ``sample_frames`` of all frames (all of
  them when fewer), drawn with ``numpy.random.default_rng(seed)``, for probes and SAEs.

Dump (:func:`dump_activations`): one forward pass over the selected utterances writes, per
layer l and subset s, ``layer-<l>/<s>.npy``: a float16 array [n_s, D_l] whose row r is the FFN
site h = act(fc1(x)) of the frame with ``row == r``. Utterances are sorted by length and
batched greedily (padded length x batch size <= ``batch_seconds``, longest <= ``max_pad_ratio``
x shortest); padded frames are dropped. Each .npy is created with ``np.lib.format.open_memmap``
under a temporary name and filled with positioned writes (``os.pwrite``) of each utterance's
contiguous rows, so memory holds one batch whatever the corpus size; the files are renamed into
place at the end (:func:`bound_heap` keeps the allocator from fragmenting the heap, so the peak
RSS stays flat as the corpus grows). Padding is masked with the attention mask; for models with a group-normalised
first conv layer (HuBERT/wav2vec 2.0 base) the padding still shifts that layer's statistics a
little, which ``max_pad_ratio`` bounds (``batch_seconds: 0`` forwards one utterance at a time,
exactly).

Index (:func:`build_index`): per subset a table row-aligned with the arrays: ``utt_id, frame,
speaker, gender, phone, is_mid, f0_hz, pitch_bin, split``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from speechneurons.audio import audio_info, load_audio
from speechneurons.errors import BadInputError
from speechneurons.io import atomic_path, write_table
from speechneurons.phones import PHONE_TO_TYPE

log = logging.getLogger(__name__)

SUBSETS = ("mid", "sample")
INDEX_COLUMNS = ["utt_id", "frame", "speaker", "gender", "phone", "is_mid", "f0_hz", "pitch_bin", "split"]
SKIPPED_COLUMNS = ["utt_id", "path", "reason"]


def layer_dir(out_dir: str | Path, layer: int) -> Path:
    return Path(out_dir) / f"layer-{layer}"


def array_path(out_dir: str | Path, layer: int, subset: str) -> Path:
    """``<out_dir>/layer-<layer>/<subset>.npy``"""
    return layer_dir(out_dir, layer) / f"{subset}.npy"


# ----------------------------------------------------------------------------- selection


def select_frames(labels: pd.DataFrame, manifest: pd.DataFrame, sample_frames: int, seed: int) -> pd.DataFrame:
    """The rows to dump: columns ``utt_id, frame, subset, row, n_label_frames``.

    ``labels`` has ``utt_id, frame, phone, is_mid`` (one row per model frame); only
    utterances of the manifest are used, in manifest order.
    """
    order = {u: i for i, u in enumerate(manifest["utt_id"].astype(str))}
    lab = labels[["utt_id", "frame", "phone", "is_mid"]].copy()
    lab["utt_id"] = lab["utt_id"].astype(str)
    lab = lab[lab["utt_id"].isin(order)]
    lab["_order"] = lab["utt_id"].map(order)
    lab = lab.sort_values(["_order", "frame"], kind="stable").reset_index(drop=True)
    lab["n_label_frames"] = lab.groupby("utt_id")["frame"].transform("size").astype(np.int64)
    is_speech = lab["phone"].astype(str).isin(PHONE_TO_TYPE.keys())
    mid = lab[lab["is_mid"].astype(bool) & is_speech]
    rng = np.random.default_rng(seed)
    n = len(lab)
    take = np.sort(rng.choice(n, size=min(int(sample_frames), n), replace=False)) if n else np.array([], int)
    sample = lab.iloc[take]
    parts = []
    for name, part in (("mid", mid), ("sample", sample)):
        part = part[["utt_id", "frame", "n_label_frames"]].copy()
        part.insert(2, "subset", name)
        part.insert(3, "row", np.arange(len(part), dtype=np.int64))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out["frame"] = out["frame"].astype(np.int64)
    return out


# ----------------------------------------------------------------------------- batching


@dataclass
class Utterance:
    utt_id: str
    path: str
    num_samples: int
    n_label_frames: int
    # per subset: (frames in the utterance, first row); rows are contiguous
    rows: dict[str, tuple[np.ndarray, int]] = field(default_factory=dict)


def make_batches(lengths: Sequence[int], batch_samples: int, max_pad_ratio: float) -> list[list[int]]:
    """Group indices by length: longest first; a batch of padded length L_max takes the next
    (shorter) item of length L while (size + 1) * L_max <= batch_samples and
    L_max <= max_pad_ratio * L. Every batch has at least one item; batch_samples <= 0 gives
    batches of one."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            longest = lengths[current[0]]
            fits = (len(current) + 1) * longest <= batch_samples and longest <= max_pad_ratio * lengths[i]
            if fits:
                current.append(i)
                continue
            batches.append(current)
        current = [i]
    if current:
        batches.append(current)
    return batches


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
            skipped.append((utt_id, path, f"audio shorter than one frame ({info.frames} samples < {loaded.grid.receptive_field})"))
    skipped_ids = {s[0] for s in skipped}
    for (utt_id, subset), part in selection.groupby(["utt_id", "subset"], sort=False):
        if utt_id not in paths:
            raise BadInputError(utt_id, "selected frames of an utterance that is not in the manifest",
                                "Re-run select_frames on the current manifest")
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
            raise BadInputError(skipped[0][1], "audio shorter than one frame (no model frame)",
                                "Remove it from the corpus or set on_bad_input: skip")
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


def dump_activations(
    loaded,
    manifest: pd.DataFrame,
    selection: pd.DataFrame,
    out_dir: str | Path,
    layers: Iterable[int] | None = None,
    *,
    batch_seconds: float = 60.0,
    max_pad_ratio: float = 1.2,
    on_bad_input: str = "error",
    progress: bool = True,
) -> DumpReport:
    """Forward the selected utterances once and write every layer's float16 arrays (see module
    doc) and ``<out_dir>/skipped.tsv``. ``loaded`` is a :class:`~speechneurons.models.LoadedModel`."""
    import torch
    from tqdm import tqdm

    from speechneurons.model.ffn import capture_ffn

    t0 = time.perf_counter()
    layers = list(range(1, loaded.num_layers + 1)) if not layers else sorted(set(int(l) for l in layers))
    bad = [l for l in layers if not 1 <= l <= loaded.num_layers]
    if bad:
        raise ValueError(f"activations.layers {bad} do not exist: the model has layers 1..{loaded.num_layers}")
    utts, skipped = _plan(selection, manifest, loaded, on_bad_input)
    n_rows = {s: int((selection["subset"] == s).sum()) for s in SUBSETS}
    sr = loaded.grid.sample_rate
    batches = make_batches([u.num_samples for u in utts], int(batch_seconds * sr), max_pad_ratio)
    out_dir = Path(out_dir)
    with contextlib.ExitStack() as stack:
        writers: dict[tuple[int, str], _NpyWriter] = {}
        for layer in layers:
            for subset in SUBSETS:
                tmp = stack.enter_context(atomic_path(array_path(out_dir, layer, subset)))
                writers[layer, subset] = _NpyWriter(tmp, n_rows[subset], loaded.ffn_widths[layer - 1])
                stack.callback(writers[layer, subset].close)
        total_s = sum(u.num_samples for u in utts) / sr
        bar = tqdm(total=total_s, unit="s", desc="audio seconds", disable=not progress, mininterval=5,
                   bar_format="{l_bar}{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}]")
        with torch.inference_mode(), capture_ffn(loaded.model, layers) as captured:
            for batch in batches:
                group = [utts[i] for i in batch]
                waves = [load_audio(u.path, sr) for u in group]
                x, mask = loaded.prepare_batch(waves)
                loaded.model(x, attention_mask=mask)
                bar.update(sum(len(w) for w in waves) / sr)
                # rows of this batch, both subsets at once: (batch item, frame) -> (subset, row0, n)
                bi, fi, spans = [], [], []
                for subset in SUBSETS:
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
                        writers[layer, subset].write(row0, block[start:start + n])
                        start += n
        bar.close()
        for w in writers.values():
            w.close()
        write_table(skipped, out_dir / "skipped.tsv")
    wall = time.perf_counter() - t0
    report = DumpReport(len(utts), total_s, wall, n_rows, skipped)
    log.info("dumped %d utterances (%.1f s of audio) in %.1f s: %.1f audio s/s; rows %s; %d skipped",
             len(utts), total_s, wall, report.audio_seconds_per_second, n_rows, len(skipped))
    return report


def plain_forward(loaded, paths: Sequence[str], num_samples: Sequence[int], *, batch_seconds: float = 60.0,
                  max_pad_ratio: float = 1.2) -> float:
    """The same batched forward pass without hooks or writes (benchmark baseline); wall seconds."""
    import torch

    t0 = time.perf_counter()
    sr = loaded.grid.sample_rate
    with torch.inference_mode():
        for batch in make_batches(list(num_samples), int(batch_seconds * sr), max_pad_ratio):
            x, mask = loaded.prepare_batch([load_audio(paths[i], sr) for i in batch])
            loaded.model(x, attention_mask=mask)
    return time.perf_counter() - t0


def load_layer(out_dir: str | Path, layer: int, subset: str) -> np.ndarray:
    """Memory-map a dumped array (read-only)."""
    return np.load(array_path(out_dir, layer, subset), mmap_mode="r")


# ----------------------------------------------------------------------------- index


def build_index(selection: pd.DataFrame, labels: pd.DataFrame, pitch: pd.DataFrame,
                manifest: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per subset, the index table row-aligned with the arrays (columns INDEX_COLUMNS)."""
    sel = selection.copy()
    sel["utt_id"] = sel["utt_id"].astype(str)
    lab = labels[["utt_id", "frame", "phone", "is_mid"]].copy()
    pit = pitch[["utt_id", "frame", "f0_hz", "pitch_bin"]].copy()
    man = manifest[["utt_id", "speaker", "gender", "split"]].copy()
    for df in (lab, pit, man):
        df["utt_id"] = df["utt_id"].astype(str)
    for df in (lab, pit):
        df["frame"] = df["frame"].astype(np.int64)
    sel["frame"] = sel["frame"].astype(np.int64)
    out = sel.merge(lab, on=["utt_id", "frame"], how="left", validate="many_to_one")
    out = out.merge(pit, on=["utt_id", "frame"], how="left", validate="many_to_one", indicator=True)
    missing = out[out["_merge"] != "both"]
    if len(missing):
        u = missing["utt_id"].iloc[0]
        raise BadInputError(
            "pitch_frames.parquet",
            f"{len(missing)} selected frames have no pitch row (e.g. {u} frame {missing['frame'].iloc[0]})",
            "Re-run the pitch stage: its frames must be on the same frame grid as the labels",
        )
    out = out.drop(columns="_merge").merge(man, on="utt_id", how="left", validate="many_to_one")
    if out["phone"].isna().any():
        raise BadInputError("frame_labels.parquet", "selected frames missing from the frame labels",
                            "Re-run select_frames after the labels")
    out["pitch_bin"] = out["pitch_bin"].astype(np.int64)
    out["is_mid"] = out["is_mid"].astype(bool)
    result = {}
    for subset in SUBSETS:
        part = out[out["subset"] == subset].sort_values("row")
        if not np.array_equal(part["row"].to_numpy(), np.arange(len(part))):
            raise ValueError(f"selection rows of subset {subset} are not 0..n-1")
        result[subset] = part[INDEX_COLUMNS].reset_index(drop=True)
    return result


def write_index(index: dict[str, pd.DataFrame], paths: dict[str, str | Path]) -> None:
    for subset, path in paths.items():
        write_table(index[subset], path)
