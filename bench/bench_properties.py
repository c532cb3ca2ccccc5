"""Property-neuron statistics: throughput (frames x neurons per second) and peak memory.

Synthetic dumps of the default model's width (D = 1024, the embedded tiny HuBERT) and of a base
model's (D = 3072) are written as float16 .npy files and memory-mapped, like the workflow's
``mid.npy``; each run happens in a fresh subprocess, which reports the wall time of
:func:`speechneurons.properties.statistic.compute_layer` and the peak anonymous (heap) and file-backed
(memory-mapped pages) resident memory, sampled every 5 ms from /proc/self/status. Two sizes
per width show that heap memory follows the chunk size, not the dump size. If a default dump
exists (``results/*/activations/*/final/layer-*/mid.npy``), its layers are measured too.

Flags: ``--quick`` (small dumps only).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def make_dump(folder: Path, n: int, D: int, seed: int = 0) -> tuple[Path, Path]:
    """A float16 [n, D] dump (Laplace noise, a few planted neurons) and its index."""
    from speechneurons.phones import PHONES

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    mid = folder / "mid.npy"
    arr = np.lib.format.open_memmap(mid, mode="w+", dtype=np.float16, shape=(n, D))
    phones = rng.integers(0, len(PHONES), n)
    for s in range(0, n, 8192):
        e = min(n, s + 8192)
        block = rng.laplace(size=(e - s, D)).astype(np.float16)
        block[:, :8] += (phones[s:e, None] < 15) * 4.0  # vowel neurons
        arr[s:e] = block
    arr.flush()
    del arr
    index = pd.DataFrame(
        {
            "utt_id": "u",
            "frame": np.arange(n),
            "speaker": "s",
            "gender": np.array(["F", "M"])[rng.integers(0, 2, n)],
            "phone": np.array(PHONES)[phones],
            "is_mid": True,
            "f0_hz": 100.0,
            "pitch_bin": rng.integers(-1, 3, n),
            "split": "train",
        }
    )
    idx = folder / "index_mid.parquet"
    index.to_parquet(idx, index=False)
    return mid, idx


def child(mid: str, index: str, chunk_rows: int, threads: int) -> dict:
    """Run the statistic once in this process; return timings and peak memory."""
    import torch

    from speechneurons.config import defaults, settings_from
    from speechneurons.properties.statistic import PropertySettings, compute_layer
    from speechneurons.properties.tables import load_dump

    torch.set_num_threads(threads)
    peak = {"anon": _status_kb("RssAnon"), "file": _status_kb("RssFile")}
    base_anon = peak["anon"]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak["anon"] = max(peak["anon"], _status_kb("RssAnon"))
            peak["file"] = max(peak["file"], _status_kb("RssFile"))
            time.sleep(0.005)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0, c0 = time.perf_counter(), time.process_time()
    acts, idx = load_dump(mid, index)
    settings = settings_from(PropertySettings, defaults()["properties"])
    lp = compute_layer(acts, idx, layer=1, settings=settings, n_pitch_bins=3, chunk_rows=chunk_rows)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    done.set()
    t.join()
    n, D = acts.shape
    return {
        "n_frames": int(n),
        "D": int(D),
        "chunk_rows": chunk_rows,
        "threads": threads,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "frames_x_neurons_per_s": round(n * D / wall),
        "frames_per_s": round(n / wall),
        "peak_heap_mb_above_start": round((peak["anon"] - base_anon) / 1024, 1),
        "peak_heap_mb": round(peak["anon"] / 1024, 1),
        "peak_mapped_file_mb": round(peak["file"] / 1024, 1),
        "n_property_neurons": {k: len(v) for k, v in lp.property_neurons.items()},
    }


def run_child(mid: Path, index: Path, chunk_rows: int = 4096, threads: int = 2) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(mid), str(index), str(chunk_rows), str(threads)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def default_dumps() -> list[tuple[Path, Path]]:
    found = []
    for mid in sorted(
        ROOT.glob("results/*/activations/*/final/layer-*/mid.npy"),
        key=lambda p: (str(p.parents[1]), int(p.parent.name.split("-")[1])),
    ):
        index = mid.parents[1] / "index_mid.parquet"
        if index.exists():
            found.append((mid, index))
    return found


def main(flags: list[str] | None = None) -> list[dict]:
    flags = flags or []
    quick = "--quick" in flags
    sizes = [(20000, 1024)] if quick else [(50000, 1024), (100000, 1024), (30000, 3072)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_properties.") as tmp:
        for n, D in sizes:
            mid, idx = make_dump(Path(tmp) / f"{n}x{D}", n, D)
            for chunk in [1024, 4096, 16384] if (n, D) == sizes[0] and not quick else [4096]:
                r = run_child(mid, idx, chunk)
                r["dump"] = f"synthetic {n}x{D}"
                rows.append(r)
                print(json.dumps(r), flush=True)
            mid.unlink()
    for mid, idx in default_dumps():
        r = run_child(mid, idx)
        r["dump"] = str(mid.relative_to(ROOT))
        rows.append(r)
        print(json.dumps(r), flush=True)
    if not default_dumps():
        print("no default dump under results/*/activations/*/final/: only synthetic dumps measured")
    cols = [
        "dump",
        "chunk_rows",
        "seconds",
        "cpu_seconds",
        "frames_x_neurons_per_s",
        "peak_heap_mb_above_start",
        "peak_mapped_file_mb",
    ]
    print(pd.DataFrame(rows)[cols].to_string(index=False))
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
    else:
        main(sys.argv[1:])
