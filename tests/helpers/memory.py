"""Peak memory of the layer-reading jobs on a synthetic corpus (tests/workflow/test_layer_memory.py).

``python -m tests.helpers.memory <job> <root> <n_rows> <n_neurons>`` writes, under ``root``, a
layer's ``mid.npy`` (float16 [n_rows, n_neurons], with its checksum sidecar, as the dump writes
it), its ``index_mid.parquet``, the dissection's phone and utterance item tables and a
``neurons.json``, then runs the job function (the code the workflow's script runs) and prints
one JSON line: the peak anonymous memory above what the process held before the job
(``anon_mb``, RssAnon sampled every 2 ms: the pages of a memory-mapped array are the kernel's
file cache, not the job's memory), the job's peak resident set (``hwm_mb``, VmHWM, file pages
included) and the size of the layer as float32 (``layer_mb``).

Jobs: ``dissection`` (``dissection.jobs.layer``, phone and utterance items, cos3),
``properties`` (``properties.jobs.layer``: the statistic, its nulls and bootstrap), ``saes``
(``saes.jobs.layer``: a top-k SAE trained 20 steps on a sample of at most ``SAMPLE_FRAMES``
frames, whatever the corpus, and the statistic of its latents on every middle frame).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd

from speechneurons.io import write_json, write_sidecar, write_table
from speechneurons.phones import PHONE_TO_TYPE, PHONES
from tests.helpers.config import Named

ROWS_PER_UTTERANCE = 40
SPEAKERS = 20
SAMPLE_FRAMES = 2000


def _status(field: str) -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise KeyError(field)


class Peak:
    """The highest RssAnon seen while the block runs, above its value at the start."""

    def __enter__(self):
        self.base, self.peak, self.stop = _status("RssAnon"), 0.0, False
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()
        return self

    def _watch(self):
        while not self.stop:
            self.peak = max(self.peak, _status("RssAnon"))
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.stop = True
        self.thread.join()
        self.peak = max(self.peak, _status("RssAnon"))
        self.growth = self.peak - self.base


def write_inputs(root: Path, n: int, d: int, seed: int = 0) -> dict[str, str]:
    """The files a layer's jobs read, for ``n`` middle frames of ``d`` neurons (module docstring)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    utt = np.arange(n) // ROWS_PER_UTTERANCE
    speaker = utt % SPEAKERS
    phone = np.array(PHONES)[rng.integers(0, len(PHONES), n)]
    gender = np.where(speaker % 2 == 0, "F", "M")
    f0 = np.where(gender == "F", 200.0, 110.0) + rng.normal(0, 20, n)
    pitch_bin = np.digitize(f0, np.quantile(f0, [1 / 3, 2 / 3]))
    split = np.where(utt % 4 == 3, "test", "train")
    utt_ids = np.char.add("u", utt.astype(str))
    speakers = np.char.add("s", speaker.astype(str))
    index = pd.DataFrame(
        {"utt_id": utt_ids, "frame": np.arange(n) % ROWS_PER_UTTERANCE, "speaker": speakers, "gender": gender,
         "phone": phone, "is_mid": True, "f0_hz": f0, "pitch_bin": pitch_bin, "split": split}
    )  # fmt: skip
    paths = {k: str(root / f) for k, f in (("mid", "mid.npy"), ("index", "index_mid.parquet"))}
    write_table(index, paths["index"])
    acts = np.lib.format.open_memmap(paths["mid"], mode="w+", dtype=np.float16, shape=(n, d))
    for lo in range(0, n, 4096):  # a block at a time, as the dump writes
        block = rng.normal(size=(min(4096, n - lo), d))
        block[:, 0] += gender[lo : lo + 4096] == "F"  # a gender neuron, so that the nulls have work
        acts[lo : lo + 4096] = block
    acts.flush()
    del acts
    write_sidecar(paths["mid"])
    pitch = np.array(["low", "mid", "high"])[pitch_bin]
    phones = pd.DataFrame(
        {"item_id": [f"{u}:{f}" for u, f in zip(utt_ids, index["frame"])], "utt_id": utt_ids, "split": split,
         "phone": phone, "phone_type": [PHONE_TO_TYPE[p] for p in phone], "speaker": speakers, "gender": gender,
         "pitch": pitch, "caption": [f"{p} of {s}" for p, s in zip(phone, speakers)]}
    )  # fmt: skip
    first = ~pd.Series(utt_ids).duplicated().to_numpy()
    utterances = phones[first][["utt_id", "split", "speaker", "gender"]].assign(
        item_id=lambda t: t["utt_id"], caption=lambda t: "utterance " + t["utt_id"]
    )
    for kind, table, attrs in (
        ("phone", phones, ["phone", "phone_type", "speaker", "gender", "pitch"]),
        ("utterance", utterances, ["speaker", "gender"]),
    ):
        paths[f"{kind}_table"], paths[f"{kind}_meta"] = str(root / f"{kind}.parquet"), str(root / f"{kind}.json")
        write_table(table.reset_index(drop=True), paths[f"{kind}_table"])
        write_json(paths[f"{kind}_meta"], {"kind": kind, "attributes": attrs, "edges": {}})
    # the SAEs' sample: a fixed number of frames (activations.sample_frames), whatever the corpus
    m = min(n, SAMPLE_FRAMES)
    sample = index.iloc[np.linspace(0, n - 1, m).round().astype(int)].reset_index(drop=True)
    paths["sample"], paths["index_sample"] = str(root / "sample.npy"), str(root / "index_sample.parquet")
    np.save(paths["sample"], rng.normal(size=(m, d)).astype(np.float16))
    write_sidecar(paths["sample"])
    write_table(sample, paths["index_sample"])
    paths["index_mid"] = paths["index"]
    neurons = {"exclusive_group_neurons": {"phone_type": {}, "gender": {"F": [0], "M": []}, "pitch": {}}}
    paths["neurons"] = str(root / "neurons.json")
    write_json(paths["neurons"], neurons)
    return paths


def run_dissection(paths: dict, out: Path) -> None:
    from speechneurons.config import defaults, section_params
    from speechneurons.dissection.jobs import layer
    from speechneurons.dissection.settings import DissectionSettings

    config = defaults()
    section = {**config["dissection"], "n_permutations": 3}
    params = SimpleNamespace(layer=1, settings=section_params(DissectionSettings, section), llm={}, llm_cache="",
                             n_pitch_bins=3, tau_fraction=config["properties"]["tau_fraction"], level=0.95)  # fmt: skip
    names = {"neurons": "neurons.tsv", "shared": "shared.tsv", "similarity": "similarity.npz",
             "agreement": "agreement.tsv", "summary": "summary.json"}  # fmt: skip
    layer(SimpleNamespace(**paths), Named({k: str(out / f) for k, f in names.items()}), params)


def run_properties(paths: dict, out: Path) -> None:
    from speechneurons.properties.jobs import layer
    from tests.helpers.config import properties_layer_job

    params, outputs = properties_layer_job(out)
    layer(SimpleNamespace(mid=paths["mid"], index=paths["index"]), outputs, params)


def run_saes(paths: dict, out: Path) -> None:
    from speechneurons.config import defaults, section_params
    from speechneurons.properties.nulls import NullSettings
    from speechneurons.properties.statistic import PropertySettings
    from speechneurons.saes.jobs import layer
    from speechneurons.saes.settings import SaeSettings

    config = defaults()
    config["properties"].update(null_draws=3)
    saes = {**config["saes"], "steps": 20, "expansion_factor": 1}
    params = SimpleNamespace(
        layer=1, arch="topk", settings=section_params(SaeSettings, saes), ks=[saes["k"]], sweep=[],
        max_eval_rows=saes["max_eval_rows"], properties=section_params(PropertySettings, config["properties"]),
        nulls=section_params(NullSettings, config["properties"]), n_pitch_bins=3, on_bad_input="error", seed=0,
        device="cpu",
    )  # fmt: skip
    names = {"sae": "sae", "sweep": "sweep", "evaluation": "evaluation.tsv", "sums": "evaluation.npz",
             "train_log": "train_log.tsv", "latents": "latents.json", "P": "P.npz", "R": "R.parquet",
             "counts": "counts.tsv", "skipped": "skipped.tsv", "null": "null.tsv"}  # fmt: skip
    inputs = {k: paths[k] for k in ("sample", "index_sample", "mid", "index_mid")}
    layer(SimpleNamespace(**inputs), Named({k: str(out / f) for k, f in names.items()}), params)


JOBS = {"dissection": run_dissection, "properties": run_properties, "saes": run_saes}


def main(argv: list[str]) -> None:
    """``write <root> <n_rows> <n_neurons>``, or ``<job> <root>`` on what ``write`` wrote (a
    process of its own, so that its peak resident set is the job's)."""
    if argv[0] == "write":
        root = Path(argv[1])
        write_json(root / "paths.json", write_inputs(root / "inputs", int(argv[2]), int(argv[3])))
        return
    job, root = argv[0], Path(argv[1])
    import gc

    import torch

    torch.set_num_threads(1)
    paths = json.loads((root / "paths.json").read_text())
    out = root / f"outputs-{job}"
    out.mkdir(parents=True, exist_ok=True)
    gc.collect()
    with Peak() as peak:
        JOBS[job](paths, out)
    print(json.dumps({"job": job, "anon_mb": peak.growth, "hwm_mb": _status("VmHWM")}))


if __name__ == "__main__":
    main(sys.argv[1:])
