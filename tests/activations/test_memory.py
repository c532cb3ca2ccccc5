"""No stage holds a whole layer's activations of the corpus in memory: the activation dump and
the property statistic run in a fresh process on synthetic corpora of N and 4N utterances, and
the peak of their anonymous memory above what the process held before (RssAnon, sampled while
they run: the pages of a memory-mapped array read once are the kernel's file cache, not the
job's memory) grows far less than the size of one layer of the larger corpus.

One layer of the 4N corpus is 4N utterances x 50 frames x 2048 neurons: about 41 MB as
float16 (82 MB as float32), against a bound of a quarter of the float16 size on the growth.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
N = 50  # utterances of the small corpus; the large one has 4N
FRAMES = 50  # frames per utterance (1 s)
FFN = 2048

WORKER = r"""
import json, sys, threading, time
from pathlib import Path

import numpy as np
import torch
import transformers

from speechneurons.activations.dump import bound_heap, dump_activations
from speechneurons.activations.index import build_index
from speechneurons.activations.selection import select_frames
from speechneurons.frames import FrameGrid
from speechneurons.model.registry import load_model
from speechneurons.properties.statistic import PropertySettings, count_top, layer_properties, layer_top, property_groups
from speechneurons.properties.tables import load_dump
from tests.activations.test_dump import make_corpus
from tests.helpers.models import tiny_config

root, n_utts, ffn = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(1)
bound_heap()


def rss_anon_mb():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) / 1024


class Peak:
    # the highest RssAnon seen while the block runs, sampled every 2 ms
    def __enter__(self):
        self.base, self.peak, self.stop = rss_anon_mb(), 0.0, False
        self.thread = threading.Thread(target=self.watch, daemon=True)
        self.thread.start()
        return self

    def watch(self):
        while not self.stop:
            self.peak = max(self.peak, rss_anon_mb())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        self.peak = max(self.peak, rss_anon_mb())


n_samples = FrameGrid().receptive_field + (int(sys.argv[4]) - 1) * FrameGrid().hop
manifest, labels, pitch = make_corpus(root, [n_samples] * n_utts)
torch.manual_seed(0)
model_dir = root / "model"
config = tiny_config("hubert", layers=2, hidden=32, ffn=ffn, feat_extract_norm="layer")
transformers.HubertModel(config).save_pretrained(model_dir)
loaded = load_model(str(model_dir), device="cpu")
selection = select_frames(labels, manifest, sample_frames=len(labels) // 2, seed=0)
arrays = {(layer, s): root / f"layer-{layer}" / f"{s}.npy" for layer in (1, 2) for s in ("mid", "sample")}
for path in arrays.values():
    path.parent.mkdir(exist_ok=True)
index = build_index(selection, labels, pitch, manifest)["mid"]
index_path = root / "index_mid.parquet"
index.to_parquet(index_path)
out = {}
with Peak() as dump:
    dump_activations(loaded, manifest, selection, arrays, batch_seconds=5.0, progress=False)
out["dump"] = dump.peak - dump.base
settings = PropertySettings(0.01, 0.8, 1, ("train", "test"), "threshold", 0.05)  # tau: 1 % of D, the default
with Peak() as stat:
    acts, idx = load_dump(arrays[1, "mid"], index_path)
    labs, top = layer_top(acts, idx, settings, 3, chunk_rows=512)
    n_groups = {prop: len(g) for prop, g in property_groups(3).items()}
    layer_properties(count_top(top, labs, n_groups), 1, settings.sigma, settings.min_count, 3)
out["statistic"] = stat.peak - stat.base
out["layer_mb"] = len(labels) * ffn * 2 / 2**20
print(json.dumps(out))
"""


def peak_memory(tmp_path: Path, n_utts: int) -> dict[str, float]:
    root = tmp_path / f"n{n_utts}"
    root.mkdir()
    cmd = [sys.executable, "-c", WORKER, str(root), str(n_utts), str(FFN), str(FRAMES)]
    env = {"PYTHONPATH": f"{REPO / 'src'}:{REPO}", "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_no_stage_holds_a_whole_layer_of_the_corpus_in_memory(tmp_path):
    small, large = peak_memory(tmp_path, N), peak_memory(tmp_path, 4 * N)
    bound = 0.25 * large["layer_mb"]
    for stage in ("dump", "statistic"):
        growth = large[stage] - small[stage]
        assert growth < bound, (
            f"{stage}: peak anonymous memory grew {growth:.1f} MB from {N} to {4 * N} utterances "
            f"(one layer of the larger corpus: {large['layer_mb']:.1f} MB as float16; bound {bound:.1f} MB)"
        )
