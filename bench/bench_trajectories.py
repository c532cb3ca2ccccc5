"""Layer-wise analysis on a finished run: held-out PWCCA per layer and reset-top PER, timed.

Reads a results folder of the embedded default (``results/synth`` or a copy given with
``--results``): the corpus manifest, the frame labels, a model checkpoint. Measures PWCCA of
a few layers against every view with the schema's defaults (fewer utterances with
``--utterances``), then fine-tunes with CTC for n = 0 and 1 reset layers (``--n-reset``,
``--steps``). Prints the tables and the seconds each part took, single-threaded.

Flags (``--key=value``, as ``python -m bench`` passes only dashed arguments):
``--results=DIR --checkpoint=NAME --layers=0,3,6 --utterances=N --steps=S --n-reset=0,1 --lrs=0.001,0.003
--no-pwcca --no-finetune``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))


def _manifest(results: Path) -> pd.DataFrame:
    """The manifest with audio paths that exist: as written, relative to the folder holding
    results/ (paths are written relative to the workflow root), or under corpus/audio/."""
    manifest = pd.read_csv(results / "corpus" / "manifest.tsv", sep="\t")
    root = results.parents[1]
    paths = []
    for p in manifest["audio_path"].astype(str):
        for candidate in (Path(p), root / p, results / "corpus" / "audio" / Path(p).parent.name / Path(p).name):
            if candidate.exists():
                paths.append(str(candidate))
                break
        else:
            raise FileNotFoundError(p)
    return manifest.assign(audio_path=paths)


def _checkpoint(results: Path, name: str) -> Path:
    """A checkpoint folder of the run's model, in the flat layout (models/<m>/final,
    models/<m>/checkpoints/step-N) or per iteration (models/<m>/iteration-<i>/...; final = the
    last iteration's)."""
    pattern = "final" if name == "final" else f"checkpoints/{name}"
    hits = sorted(results.glob(f"models/*/{pattern}")) + sorted(results.glob(f"models/*/iteration-*/{pattern}"))
    if not hits:
        raise FileNotFoundError(f"no checkpoint {name} under {results}/models")
    return hits[-1]


def main(argv: list[str]) -> None:
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(1)
    threadpool_limits(1)  # the SVDs too: single-threaded, as the workflow's jobs of one thread
    parser = argparse.ArgumentParser(prog="bench trajectories")
    parser.add_argument("--results", default=str(ROOT / "results" / "synth"))
    parser.add_argument("--checkpoint", default="final")
    parser.add_argument("--layers", default="0,3,6")
    parser.add_argument("--utterances", type=int, default=0, help="0 = the schema default")
    parser.add_argument("--steps", type=int, default=0, help="0 = the schema default")
    parser.add_argument("--n-reset", default="0,1")
    parser.add_argument("--lrs", default="", help="comma-separated candidate rates; empty = the schema default")
    parser.add_argument("--no-pwcca", action="store_true")
    parser.add_argument("--no-finetune", action="store_true")
    parser.add_argument("--quick", action="store_true", help="(ignored; kept for python -m bench)")
    args = parser.parse_args([a for a in argv if a != "--quick"])

    from speechneurons.model.registry import load_model
    from speechneurons.trajectories.features import extract_views
    from speechneurons.trajectories.finetune import frame_codes, reset_top_experiment
    from speechneurons.trajectories.measures import load_waves, measure_pwcca, plan_for
    from tests.helpers.trajectories import pwcca_settings, reset_settings, sample_settings

    results = Path(args.results)
    if not (results / "corpus" / "manifest.tsv").exists():
        print(f"no finished run under {results}; nothing to measure")
        return
    manifest = _manifest(results)
    labels = pd.read_parquet(next(results.glob("labels/*/frame_labels.parquet")))
    ckpt = _checkpoint(results, args.checkpoint)
    layers = [int(v) for v in args.layers.split(",") if v]
    top = {"layers": layers}
    if args.utterances:
        top["max_utterances"] = args.utterances
    reset = {"n_reset": [int(v) for v in args.n_reset.split(",")]}
    if args.steps:
        reset["steps"] = args.steps
    if args.lrs:
        reset["lrs"] = [float(v) for v in args.lrs.split(",")]
    sample, pwcca, reset_top = sample_settings(**top), pwcca_settings(), reset_settings(**reset)
    pd.set_option("display.width", 160)

    cpu = time.process_time
    t0 = time.perf_counter()
    loaded = load_model(str(ckpt), "cpu")
    print(f"model {ckpt} loaded in {time.perf_counter() - t0:.1f} s ({loaded.num_layers} layers)")
    if not args.no_pwcca:
        t = time.perf_counter()
        plan = plan_for(manifest, labels, sample, pwcca, seed=0)
        waves = load_waves(manifest, plan.utt_ids, loaded.grid.sample_rate)
        t_plan = time.perf_counter() - t
        t, c = time.perf_counter(), cpu()
        views = extract_views(loaded, waves, plan, layers=sample.layers, views=pwcca.views, n_mels=pwcca.n_mels)
        t_views, c_views = time.perf_counter() - t, cpu() - c
        t, c = time.perf_counter(), cpu()
        summary, trials = measure_pwcca(views, pwcca, args.checkpoint, seed=0)
        t_cca, c_cca = time.perf_counter() - t, cpu() - c
        audio_s = sum(len(w) for w in waves.values()) / loaded.grid.sample_rate
        print(
            f"\nPWCCA: {len(plan.utt_ids)} utterances ({audio_s:.0f} s audio), {len(plan.frames)} frames, "
            f"{len(plan.phone_segments)} phone segments, {len(plan.word_segments)} word segments "
            f"({len(plan.words)} words)"
        )
        print(
            f"seconds (wall / CPU): plan+audio {t_plan:.1f}, forward {t_views:.1f} / {c_views:.1f}, CCA {t_cca:.1f} / "
            f"{c_cca:.1f} ({c_cca / len(summary):.2f} CPU s per measure, {len(summary)} measures)"
        )
        print(summary.drop(columns=["checkpoint"]).round(3).to_string(index=False))
        chosen = trials.groupby("view")[["eps_layer", "eps_view"]].agg(
            lambda v: " ".join(f"{e:g}" for e in sorted(set(v)))
        )
        print("thresholds chosen on dev:\n" + chosen.to_string())
    if not args.no_finetune:
        t, c = time.perf_counter(), cpu()
        train = manifest[manifest["split"] == "train"]["utt_id"].astype(str).tolist()
        test = manifest[manifest["split"] == "test"]["utt_id"].astype(str).tolist()
        waves = load_waves(manifest, train + test, loaded.grid.sample_rate)
        codes = frame_codes(labels, train + test)
        res = reset_top_experiment(
            loaded, waves, train, test, codes, reset_top, seed=0, device="cpu", resamples=1000, level=0.95
        )
        print(
            f"\nreset-top fine-tuning ({reset_top.steps} steps, batch {reset_top.batch_size}, rates "
            f"{reset_top.lrs}): {time.perf_counter() - t:.1f} s wall, {cpu() - c:.1f} s CPU in all"
        )
        print(res.summary.round(3).to_string(index=False))
        curve = res.train_log.groupby("n_reset")["loss"].apply(
            lambda v: np.round(v.to_numpy()[:: max(1, len(v) // 8)], 2)
        )
        print(curve.to_string())
