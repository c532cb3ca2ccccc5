"""Pretraining per CPU-second: the waveform tiny HuBERT against the log-Mel (MelHuBERT-style) one.

Each run trains one model from scratch on the train utterances of a finished workflow run (its
manifest and its iteration-1 MFCC k-means targets, K = 100) for a CPU-time budget with one torch
thread, then scores masked prediction (:func:`speechneurons.pretrain.masked_prediction_accuracy`)
on held-out test utterances and on as many train utterances, with the same seeded masks
(mask_prob 0.65, spans of 10) for every model.

- Budget: a throwaway copy of the model trains a few steps to measure CPU seconds per step;
  the run then gets budget / (s/step) steps, so its learning-rate schedule ends with the budget.
  Times are CPU seconds of this process (time.process_time), not wall time: the machine is shared.
- Held-out targets: the workflow keeps only the train utterances' targets, so the k-means is
  refitted exactly as the workflow fits it (MFCC + deltas, seed, all frames) on the same train
  utterances; the share of train frames where the refit agrees with the stored targets is
  printed (1.0: the same k-means), and the refit labels the test utterances.

Measured (synth corpus: 420 train utterances, 30 min; 40 test utterances scored; 90 CPU s each,
one thread, 2 shared cores; default model 6 layers, hidden 256, FFN 1024, lr 2e-3, crops 2 s):

    front-end  batch  lr     s/step  steps  held-out masked acc  train masked acc
    waveform   8      2e-3   0.543   161    0.039                0.042
    waveform   4      2e-3   0.300   293    0.032                0.042
    logmel     8      2e-3   0.333   238    0.057                0.058
    logmel     4      2e-3   0.183   489    0.070                0.080
    logmel     4      5e-3   0.184   459    0.061                0.058
    logmel     2      2e-3   0.107   844    0.059                0.067

(chance 0.010, majority class 0.038; the transformer is most of a log-Mel step.)

Usage (one run per call, each appends a row to --results):
    python bench/bench_pretrain.py --run waveform --budget-s 90
    python bench/bench_pretrain.py --run logmel --budget-s 90 --set lr=0.004 --set max_crop_s=4
    python -m bench pretrain [--quick]      # the waveform / logmel pair
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DATA = ROOT / "results" / "synth"
RESULTS = ROOT / "benchmarks" / "bench" / "pretrain.tsv"
PRESETS = {"waveform": {"frontend": "waveform"}, "logmel": {"frontend": "logmel"}}
EVAL_MASK = dict(mask_prob=0.65, mask_length=10)


def resolve_audio(path: str, data: Path) -> str:
    """The manifest's audio path, or the same file under ``data``/corpus/audio when it is not there."""
    if Path(path).exists():
        return path
    rest = str(path).split("corpus/audio/", 1)[-1]
    return str(data / "corpus" / "audio" / rest)


def evenly(n: int, k: int) -> np.ndarray:
    """k indices spread evenly over 0..n-1 (all of them when k >= n)."""
    return np.arange(n) if k >= n else np.unique(np.linspace(0, n - 1, k).round().astype(int))


def load_data(data: Path, n_eval: int, n_mfcc: int, cache: Path) -> dict:
    """Train waves and targets, and the evaluation subsets (test and train) with their targets."""
    from speechneurons.frames import FrameGrid
    from speechneurons.io import read_table, write_table
    from speechneurons.model import pretrain as P
    from speechneurons.model import targets as T

    grid = FrameGrid()
    manifest = pd.read_csv(data / "corpus" / "manifest.tsv", sep="\t")
    manifest["audio_path"] = [resolve_audio(p, data) for p in manifest["audio_path"]]
    model_dir = data / "models" / "tinyhubert"
    folder = model_dir / "iteration-1" if (model_dir / "iteration-1").exists() else model_dir
    stored = T.targets_from_table(read_table(folder / "targets.parquet"))
    info = json.loads((folder / "targets.json").read_text())
    ids, waves, _ = P.load_corpus(manifest, grid, ["train"])
    ids, waves, targets, missing = P.align_targets(ids, waves, stored, grid)
    test_ids, test_waves, _ = P.load_corpus(manifest, grid, ["test"])
    keep = evenly(len(test_ids), n_eval)
    test_ids, test_waves = [test_ids[i] for i in keep], [test_waves[i] for i in keep]
    cache_file = cache / f"heldout-targets-{n_eval}.parquet"
    if cache_file.exists():
        held = T.targets_from_table(read_table(cache_file))
    else:
        t0 = time.process_time()
        feats = [T.mfcc_features(w, grid, n_mfcc) for w in waves]
        km = T.fit_kmeans(feats, int(info["n_clusters"]), int(info["seed"]))
        refit = T.assign(km, feats)
        agree = float(np.mean(np.concatenate(refit) == np.concatenate(targets)))
        print(
            f"k-means refit agrees with the stored targets on {agree:.4f} of train frames "
            f"({time.process_time() - t0:.0f} CPU s)",
            flush=True,
        )
        held = dict(zip(test_ids, T.assign(km, [T.mfcc_features(w, grid, n_mfcc) for w in test_waves])))
        cache.mkdir(parents=True, exist_ok=True)
        write_table(T.targets_table(test_ids, [held[u] for u in test_ids]), cache_file)
    sub = evenly(len(ids), n_eval)
    return dict(
        grid=grid,
        waves=waves,
        targets=targets,
        n_clusters=int(info["n_clusters"]),
        test=(test_waves, [held[u] for u in test_ids]),
        train_eval=([waves[i] for i in sub], [targets[i] for i in sub]),
        missing=missing,
    )


def train_cpu(model, head, data: dict, opts, steps: int, seed: int, checkpoint_steps=(), on_checkpoint=None):
    """Train; returns the log and the CPU seconds it took."""
    from speechneurons.model import pretrain as P

    t0 = time.process_time()
    log = P.train(model, head, data["waves"], data["targets"], data["grid"], opts, steps, seed,
                  checkpoint_steps=checkpoint_steps, on_checkpoint=on_checkpoint, progress=False)  # fmt: skip
    return log, time.process_time() - t0


def seconds_per_step(model, head, data: dict, opts, steps: int) -> float:
    """CPU seconds per step of a throwaway copy, timed after its first (slower) step."""
    marks = []
    cal = dataclasses.replace(opts, log_every=steps + 1)
    train_cpu(copy.deepcopy(model), copy.deepcopy(head), data, cal, steps + 1, 0, [1],
              lambda *_: marks.append(time.process_time()))  # fmt: skip
    return (time.process_time() - marks[0]) / steps


def run(
    name: str,
    overrides: dict,
    data: dict,
    budget_s: float | None,
    steps: int | None,
    seed: int = 0,
    calibration_steps: int = 4,
    log_file: Path | None = None,
    threads: int = 1,
) -> dict:
    """Train one configuration for a CPU budget (or a step count) and score it."""
    import torch

    from speechneurons.config import defaults, settings_from
    from speechneurons.model import hubert as H
    from speechneurons.model import pretrain as P

    torch.set_num_threads(threads)
    pcfg = {**defaults()["pretrain"], **PRESETS.get(name, {}), **overrides}
    opts = settings_from(P.TrainSettings, pcfg)
    model = H.build_model(settings_from(H.ModelSettings, pcfg), data["grid"], seed)
    torch.manual_seed(seed)
    head = H.PretrainHead(model.config.hidden_size, data["n_clusters"], opts.final_dim, opts.temperature)
    if steps is None:
        steps = max(1, int(budget_s / seconds_per_step(model, head, data, opts, calibration_steps)))
    opts = dataclasses.replace(opts, log_every=max(1, steps // 20))
    log, cpu = train_cpu(model, head, data, opts, steps, seed)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        log.to_csv(log_file, sep="\t", index=False)
    t0 = time.process_time()
    held = H.masked_prediction_accuracy(model, head, *data["test"], data["grid"], seed=1, **EVAL_MASK)
    seen = H.masked_prediction_accuracy(model, head, *data["train_eval"], data["grid"], seed=1, **EVAL_MASK)
    tail = log.tail(max(1, len(log) // 10))
    return {
        "run": name,
        "settings": json.dumps(overrides, sort_keys=True),
        "frontend": pcfg["frontend"],
        "params_M": round(sum(p.numel() for p in model.parameters()) / 1e6, 2),
        "steps": steps,
        "cpu_s": round(cpu, 1),
        "s_per_step": round(cpu / steps, 3),
        "heldout_masked_acc": round(held["masked_acc"], 4),
        "heldout_masked_loss": round(held["masked_loss"], 3),
        "train_masked_acc": round(seen["masked_acc"], 4),
        "train_log_acc_end": round(float(tail["masked_acc"].mean()), 4),
        "heldout_unmasked_acc": round(held["unmasked_acc"], 4),
        "eval_cpu_s": round(time.process_time() - t0, 1),
        "chance": 1 / data["n_clusters"],
        "majority": round(float(log["majority_rate"].iloc[0]), 4),
    }


def append_row(row: dict, results: Path) -> None:
    from speechneurons.io import write_table

    results.parent.mkdir(parents=True, exist_ok=True)
    table = pd.read_csv(results, sep="\t") if results.exists() else pd.DataFrame()
    write_table(pd.concat([table, pd.DataFrame([row])], ignore_index=True), results)


def parse_args(argv: list[str]) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", action="append", help=f"preset {list(PRESETS)} (repeatable; default: all)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="pretrain setting (YAML value)")
    ap.add_argument("--budget-s", type=float, default=90.0, help="CPU seconds of training per run")
    ap.add_argument("--steps", type=int, help="a fixed step count instead of a CPU budget")
    ap.add_argument("--data", type=Path, default=DATA, help="results/<corpus> of a finished run")
    ap.add_argument("--eval-utts", type=int, default=40, help="test (and train) utterances scored")
    ap.add_argument("--n-mfcc", type=int, default=13)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--quick", action="store_true", help="20 CPU s per run, 10 utterances scored")
    ap.add_argument("--threads", type=int, default=1, help="torch threads")
    return ap.parse_args(argv)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    if args.quick:
        args.budget_s, args.eval_utts = 20.0, 10
    overrides = {k: yaml.safe_load(v) for k, v in (s.split("=", 1) for s in args.set)}
    data = load_data(args.data, args.eval_utts, args.n_mfcc, args.results.parent)
    for name in args.run or list(PRESETS):
        tag = "-".join([name] + [f"{k}={v}" for k, v in sorted(overrides.items())])
        row = run(
            name,
            overrides,
            data,
            None if args.steps else args.budget_s,
            args.steps,
            log_file=args.results.parent / f"log-{tag}-{args.budget_s:.0f}s.tsv",
            threads=args.threads,
        )
        append_row(row, args.results)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
