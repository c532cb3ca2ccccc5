"""Activation dump: audio seconds per second of the dump (hooks and writes; the front-end of each
utterance alone and the transformer batched with the mask, so its rows do not depend on the
batching) against the plain padded forward pass the dump used to do (one forward of a zero-padded
batch, no hooks) on the same utterances in the same run (target: >= 0.9 of plain, i.e. at most
10 % slower), and peak memory of the dump at two corpus sizes (target: the same).

A random HuBERT of the embedded default's size (6 layers, hidden 384, FFN 1536) on synthetic
audio (noise, 2-8 s per utterance), so it runs without the workflow. The dump writes every
layer's middle frames (every 3rd frame) and a 20k-frame sample. Memory is measured in a fresh
subprocess per corpus size: the peak RSS of the dump call (VmHWM after resetting it through
/proc/self/clear_refs) and its tracemalloc peak. Both use :func:`bound_heap`, as the workflow's
dump job does (without it glibc's dynamic mmap threshold lets the heap fragment and the peak
RSS creep up with the number of batches: 762 vs 939 MB at 55 vs 222 s of audio, against
662 vs 679 MB with it, measured on 2 shared CPU cores).

Flags: ``--quick`` (smaller corpus, one repeat).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

BATCH_SECONDS_MEM = 12.0  # small batches, so that both corpus sizes fill them
MODEL = dict(layers=6, hidden=384, ffn=1536, conv_dim=256, num_attention_heads=6)


def make_model(folder: Path) -> None:
    import torch
    import transformers

    from tests.helpers.models import tiny_config

    torch.manual_seed(0)
    cfg = tiny_config("hubert", **MODEL)
    transformers.HubertModel(cfg).save_pretrained(folder)


def make_corpus(folder: Path, n_utts: int, seed: int = 0, seconds: tuple[float, float] = (2.0, 8.0)):
    """Noise wavs, a manifest and frame labels (middle frame = every 3rd frame)."""
    import soundfile as sf

    from speechneurons.frames import FrameGrid

    grid, rng = FrameGrid(), np.random.default_rng(seed)
    man, lab = [], []
    for i in range(n_utts):
        n = int(rng.uniform(*seconds) * 16000)
        path = folder / f"u{i:05d}.wav"
        sf.write(path, (0.1 * rng.normal(size=n)).astype(np.float32), 16000, subtype="PCM_16")
        man.append(
            dict(utt_id=f"u{i:05d}", audio_path=str(path), speaker=f"s{i % 4}", gender="FM"[i % 2], split="train")
        )
        nf = grid.num_frames(n)
        lab.append(
            pd.DataFrame(dict(utt_id=f"u{i:05d}", frame=np.arange(nf), phone="AH", is_mid=np.arange(nf) % 3 == 1))
        )
    return pd.DataFrame(man), pd.concat(lab, ignore_index=True)


def throughput(model_dir: Path, corpus: Path, n_utts: int, repeats: int) -> dict:
    """Plain and dumping passes interleaved ``repeats`` times; medians of audio s per wall s and
    per CPU s (process time of all threads: robust when other jobs share the cores)."""
    import soundfile as sf
    import torch

    from speechneurons.activations.dump import bound_heap, dump_activations
    from speechneurons.activations.selection import select_frames
    from speechneurons.model.registry import load_model

    bound_heap()  # as in the workflow's dump job; process-wide, so plain and dump alike
    loaded = load_model(str(model_dir), device="auto")
    manifest, labels = make_corpus(corpus, n_utts)
    selection = select_frames(labels, manifest, 20000, 0)
    paths = list(manifest.audio_path)
    lengths = [sf.info(p).frames for p in paths]
    audio_s = sum(lengths) / 16000
    plain_forward(loaded, paths[:4], lengths[:4])  # warm-up
    runs = {"plain": [], "dump": []}
    with tempfile.TemporaryDirectory(dir=corpus) as out:
        for _ in range(repeats):
            for kind in ("plain", "dump"):
                w0, c0 = time.perf_counter(), time.process_time()
                if kind == "plain":
                    plain_forward(loaded, paths, lengths)
                else:
                    dump_activations(loaded, manifest, selection, array_paths(out, loaded.num_layers), progress=False)
                runs[kind].append((audio_s / (time.perf_counter() - w0), audio_s / (time.process_time() - c0)))
    med = {k: np.median(np.array(v), axis=0) for k, v in runs.items()}
    return dict(
        device=str(loaded.device),
        threads=torch.get_num_threads(),
        utterances=n_utts,
        audio_seconds=round(audio_s, 1),
        rows=int(len(selection)),
        repeats=repeats,
        plain_audio_s_per_wall_s=round(float(med["plain"][0]), 2),
        dump_audio_s_per_wall_s=round(float(med["dump"][0]), 2),
        ratio_wall=round(float(med["dump"][0] / med["plain"][0]), 3),
        plain_audio_s_per_cpu_s=round(float(med["plain"][1]), 2),
        dump_audio_s_per_cpu_s=round(float(med["dump"][1]), 2),
        ratio_cpu=round(float(med["dump"][1] / med["plain"][1]), 3),
        runs={k: [[round(x, 2) for x in r] for r in v] for k, v in runs.items()},
    )


def _proc_status_mb(key: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _memory_child(model_dir: str, corpus: str, n_utts: int) -> None:
    """Runs in a subprocess: build the corpus, load the model, then reset the peak-RSS mark
    (/proc/self/clear_refs) and dump once; print the dump's peak memory as JSON."""
    import soundfile as sf

    from speechneurons.activations.dump import bound_heap, dump_activations
    from speechneurons.activations.selection import select_frames
    from speechneurons.model.registry import load_model

    bound_heap()  # as in the workflow's dump job
    loaded = load_model(model_dir, device="auto")
    manifest, labels = make_corpus(Path(corpus), n_utts, seconds=(1.5, 3.0))
    selection = select_frames(labels, manifest, 20000, 0)
    del labels
    audio_s = sum(sf.info(p).frames for p in manifest.audio_path) / 16000
    rss_before = _proc_status_mb("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        hwm_reset = True
    except OSError:
        hwm_reset = False
    tracemalloc.start()
    with tempfile.TemporaryDirectory(dir=corpus) as out:
        dump_activations(
            loaded,
            manifest,
            selection,
            array_paths(out, loaded.num_layers),
            batch_seconds=BATCH_SECONDS_MEM,
            progress=False,
        )
        written = sum(f.stat().st_size for f in Path(out).rglob("*.npy"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        json.dumps(
            dict(
                utterances=n_utts,
                audio_seconds=round(float(audio_s), 1),
                written_mb=round(written / 2**20, 1),
                rss_before_dump_mb=round(rss_before, 1),
                peak_rss_during_dump_mb=round(_proc_status_mb("VmHWM"), 1) if hwm_reset else None,
                peak_rss_process_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                tracemalloc_peak_mb=round(peak / 2**20, 1),
            )
        )
    )


def memory(model_dir: Path, work: Path, sizes: list[int]) -> list[dict]:
    rows = []
    for n in sizes:
        corpus = work / f"mem-{n}"
        corpus.mkdir()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
                "from bench.bench_activations import _memory_child; "
                f"_memory_child({str(model_dir)!r}, {str(corpus)!r}, {n})",
            ],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return rows


def main(flags: list[str] | None = None) -> dict:
    flags = flags or []
    quick = "--quick" in flags
    with tempfile.TemporaryDirectory(prefix="bench-activations-") as tmp:
        work = Path(tmp)
        make_model(work / "model")
        (work / "tp").mkdir()
        tp = throughput(work / "model", work / "tp", 8 if quick else 24, 2 if quick else 5)
        mem = memory(work / "model", work, [24, 96] if quick else [50, 200])
    result = dict(model=MODEL, throughput=tp, memory=mem)
    print(json.dumps(result, indent=2))
    print(
        f"dump / plain audio seconds per second: {tp['ratio_wall']:.3f} by wall time, "
        f"{tp['ratio_cpu']:.3f} by CPU time "
        "(target >= 0.9); "
        f"peak RSS of the dump {mem[0]['peak_rss_during_dump_mb']} MB at {mem[0]['audio_seconds']} s of audio vs "
        f"{mem[1]['peak_rss_during_dump_mb']} MB at {mem[1]['audio_seconds']} s; tracemalloc peak "
        f"{mem[0]['tracemalloc_peak_mb']} vs {mem[1]['tracemalloc_peak_mb']} MB (target: the same)"
    )
    out = ROOT / "benchmarks" / "bench" / "activations.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    return result


def array_paths(folder, num_layers: int) -> dict:
    """Where the dump writes every layer's arrays (the workflow's layer-<L>/<subset>.npy)."""
    return {
        (layer, subset): Path(folder) / f"layer-{layer}" / f"{subset}.npy"
        for layer in range(1, num_layers + 1)
        for subset in ("mid", "sample")
    }


def plain_forward(
    loaded, paths: Sequence[str], num_samples: Sequence[int], *, batch_seconds: float = 60.0, max_pad_ratio: float = 1.2
) -> float:
    """The padded batched forward pass the dump used to do, without hooks or writes (the
    baseline); wall seconds."""
    import torch

    from speechneurons.audio import load_audio
    from speechneurons.model.forward import batches as make_batches

    t0 = time.perf_counter()
    sr = loaded.grid.sample_rate
    with torch.inference_mode():
        for batch in make_batches(list(num_samples), int(batch_seconds * sr), max_pad_ratio):
            x, mask = loaded.prepare_batch([load_audio(paths[i], sr) for i in batch])
            loaded.model(x, attention_mask=mask)
    return time.perf_counter() - t0


if __name__ == "__main__":
    main(sys.argv[1:])
