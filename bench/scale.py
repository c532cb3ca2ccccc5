"""The scale study (docs/scaling.md): run the workflow on configs/scale-<model>.yaml at two
corpus sizes (configs/scale-corpus-<size>.yaml) and collect, per stage, job-seconds, CPU-seconds,
peak RSS (Snakemake's benchmark files: s, cpu_time, max_rss), the megabytes jobs wrote
(io_out) and the disk the stage's results hold at the end; then the growth exponent between the
two sizes (log(cost_2 / cost_1) / log(audio_2 / audio_1): 1 = linear in audio).

    python -m bench.scale [--models hubert-base wav2vec2-base] [--sizes small large]
                          [--cores 2] [--device auto] [--tiny] [--out bench-scale]

``--tiny``: the same architectures at 2 layers x 64 neurons (bench.scale_models --tiny) and the
smallest corpus, to check the whole path in a few minutes on a CPU. Each run goes to its own
results folder (<out>/<model>-<size>/results); the tables are written as <out>/stages.tsv
(one row per model, size, stage) and <out>/growth.tsv (the exponents), and printed.
Jobs whose rule has no benchmark directive (figures, small tables) are counted in the
``(other)`` row: the run's wall time less the benchmarked job-seconds when run with --cores 1.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
SIZES = ("small", "large")


def run_workflow(
    model: str, size: str, out: Path, cores: int, device: str, tiny: bool, dry_run: bool = False, until=()
) -> dict:
    """One workflow run into its own results folder; returns its wall and CPU seconds."""
    from bench.scale_models import save

    folder = save(model, ROOT / "data" / "scale-models", tiny=tiny)
    run_dir = out / f"{model}-{size}"
    run_dir.mkdir(parents=True, exist_ok=True)
    override = {
        "results_dir": os.path.relpath(run_dir / "results", ROOT),
        "device": device,
        "model": {"path": str(folder)},
    }
    if tiny:  # the smoke test's study sizes (configs/ci-tiny.yaml) on the tiny architecture
        tiny_cfg = yaml.safe_load((ROOT / "configs" / "ci-tiny.yaml").read_text())
        override |= {k: v for k, v in tiny_cfg.items() if k not in ("corpus", "pretrain", "keep_intermediates")}
        override["saes"] = override["saes"] | {"layers": [1, 2]}
        override["dissection"] = override["dissection"] | {"layers": [1, 2]}
    (run_dir / "override.yaml").write_text(yaml.safe_dump(override))
    configs = [f"configs/scale-{model}.yaml", f"configs/scale-corpus-{size}.yaml", str(run_dir / "override.yaml")]
    cmd = [
        str(ROOT / ".venv" / "bin" / "snakemake"),
        "--cores", str(cores),
        "--configfile", *configs,
        "--profile", "profiles/default",
    ]  # fmt: skip
    if until:  # only these rules and what they need (snakemake --until)
        cmd += ["--until", *until]
    if dry_run:
        return {"rc": subprocess.call([*cmd, "-n", "-q"], cwd=ROOT)}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(run_dir / "snakemake.log", "w") as log:
        rc = subprocess.call(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if rc != 0:
        raise SystemExit(f"workflow failed ({model}, {size}): see {run_dir / 'snakemake.log'}")
    return {"wall_s": wall, "cpu_s": cpu}


def audio_seconds(results: Path) -> float:
    """Seconds of speech in the run's corpus (its manifest's duration_s)."""
    (manifest,) = results.glob("*/corpus/manifest.tsv")
    return float(pd.read_csv(manifest, sep="\t")["duration_s"].sum())


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6 if folder.exists() else 0.0


def stage_table(results: Path, wall: float, cores: int) -> pd.DataFrame:
    """Per stage (the folder under benchmarks/<corpus>/): jobs, job-seconds, CPU-seconds, peak
    RSS (MB), MB written by the jobs, MB the stage's results hold at the end. ``cpu_s`` is the
    benchmark files' (sampled: a job's last 30 s can be missed); ``cpu_s_logged`` the same jobs'
    exact CPU from their logs (speechneurons.logs.job_cpu_line; nan for a stage with a job whose
    log lacks the line)."""
    from speechneurons.logs import logged_cpu_seconds

    rows = []
    for path in sorted(results.glob("benchmarks/*/*/**/*.tsv")):
        rel = path.relative_to(results / "benchmarks")
        corpus, stage = rel.parts[:2]
        b = pd.read_csv(path, sep="\t").iloc[-1]
        logged = logged_cpu_seconds((results / "logs" / rel).with_suffix(".log"))
        rows.append(
            {"stage": stage, "corpus": corpus, "job": path.stem, "s": float(b["s"]),
             "cpu_s": float(b["cpu_time"]), "cpu_s_logged": float("nan") if logged is None else logged,
             "max_rss_mb": float(b["max_rss"]), "io_out_mb": float(b["io_out"])}
        )  # fmt: skip
    jobs = pd.DataFrame(rows)
    table = (
        jobs.groupby("stage")
        .agg(jobs=("job", "size"), job_s=("s", "sum"), cpu_s=("cpu_s", "sum"),
             cpu_s_logged=("cpu_s_logged", lambda x: x.sum(min_count=len(x))),
             peak_rss_mb=("max_rss_mb", "max"), written_mb=("io_out_mb", "sum"))
        .reset_index()
    )  # fmt: skip
    corpus = jobs["corpus"].iloc[0]
    table["disk_mb"] = [disk_mb(results / corpus / stage) for stage in table["stage"]]
    unbenchmarked = max(wall - table["job_s"].sum(), 0.0) if cores == 1 else float("nan")
    other = dict.fromkeys(table.columns, float("nan"))
    other |= {"stage": "(other)", "job_s": unbenchmarked, "disk_mb": disk_mb(results) - table["disk_mb"].sum()}
    return pd.concat([table, pd.DataFrame([other])], ignore_index=True)


def growth(stages: pd.DataFrame) -> pd.DataFrame:
    """Exponent of each cost between the smallest and the largest corpus of each model."""
    rows = []
    for (model, stage), g in stages.groupby(["model", "stage"]):
        g = g.sort_values("audio_s")
        if len(g) < 2:
            continue
        a, b = g.iloc[0], g.iloc[-1]
        ratio = math.log(b["audio_s"] / a["audio_s"])
        row = {"model": model, "stage": stage}
        for col in ("job_s", "cpu_s", "peak_rss_mb", "written_mb", "disk_mb"):
            x, y = a[col], b[col]
            row[col] = math.log(y / x) / ratio if x > 0 and y > 0 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


#: hours of speech of the projected corpora
TARGETS = {"dev-clean": 5.4, "train-clean-100": 100.6}
#: stages whose time is mostly transformer passes (forward, or SAE/fine-tuning steps) on the device
TORCH_STAGES = {"activations", "experiments", "trajectories", "saes", "models"}
#: ASSUMED, not measured here (no GPU was lent): a GPU's throughput on these stages against one
#: core of this CPU (HuBERT base fp32 forward: 4.15 audio-s per CPU-s here; about 1,000 audio-s
#: per s assumed on one H100-class GPU with 60-s batches), and the parallel speed-up of the other
#: stages on a 16-core GPU host against the 2 cores measured here
GPU_SPEEDUP = 240.0
HOST_SPEEDUP = 8.0


def projection(stages: pd.DataFrame) -> pd.DataFrame:
    """Per model and stage, job-seconds and peak RSS at TARGETS from the two measured sizes,
    cost = a + b * audio (a fixed part and a part linear in audio through both points; b < 0,
    i.e. noise, projects the larger measurement), on this CPU and (assumed speed-ups) on a GPU."""
    rows = []
    for (model, stage), g in stages.groupby(["model", "stage"]):
        g = g.sort_values("audio_s")
        if len(g) < 2 or stage == "(other)":
            continue
        a, b = g.iloc[0], g.iloc[-1]
        row = {"model": model, "stage": stage}
        for col in ("job_s", "peak_rss_mb", "disk_mb"):
            slope = (b[col] - a[col]) / (b["audio_s"] - a["audio_s"])
            for name, hours in TARGETS.items():
                x = hours * 3600
                row[f"{col}@{name}"] = b[col] + max(slope, 0.0) * (x - b["audio_s"])
        for name in TARGETS:
            cpu = row[f"job_s@{name}"]
            row[f"gpu_job_s@{name}"] = cpu / (GPU_SPEEDUP if stage in TORCH_STAGES else HOST_SPEEDUP)
        rows.append(row)
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame, digits: int = 1) -> str:
    """A pandas table as a Markdown table (for docs/scaling.md)."""
    t = table.round(digits).astype(object).where(table.notna(), "")
    lines = ["| " + " | ".join(map(str, t.columns)) + " |", "|" + "---|" * len(t.columns)]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in t.itertuples(index=False)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["hubert-base", "wav2vec2-base"])
    ap.add_argument("--sizes", nargs="+", default=list(SIZES))
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--out", default="bench-scale")
    ap.add_argument("--until", nargs="+", default=[], help="run only these rules and their inputs' jobs")
    ap.add_argument("--dry-run", action="store_true", help="write the models and configs, dry-run each workflow")
    ap.add_argument("--collect-only", action="store_true", help="tabulate finished runs, run nothing")
    ap.add_argument(
        "--results", help="tabulate the stages of this finished results folder (e.g. the default run's), run nothing"
    )
    args = ap.parse_args(argv)
    if args.results:
        table = stage_table(Path(args.results), float("nan"), args.cores).iloc[:-1]  # no '(other)' row
        print(table.round(1).to_string(index=False))
        logged = table["cpu_s_logged"].sum(min_count=len(table))
        exact = (
            "no exact total: some job logs predate their CPU line"
            if pd.isna(logged)
            else f"{logged:.0f} in the jobs' logs (exact)"
        )
        print(f"all: {table['jobs'].sum():.0f} benchmarked jobs, {table['job_s'].sum():.0f} job-s; "
              f"CPU-s: {table['cpu_s'].sum():.0f} in the benchmark files (sampled), {exact}")  # fmt: skip
        return 0
    out = (ROOT / args.out).resolve()
    os.chdir(ROOT)
    frames = []
    for model in args.models:
        for size in args.sizes:
            run_dir = out / f"{model}-{size}"
            if args.dry_run:
                print(model, size, run_workflow(model, size, out, args.cores, args.device, args.tiny, dry_run=True))
                continue
            if args.collect_only:
                times = yaml.safe_load((run_dir / "times.yaml").read_text())
            else:
                times = run_workflow(model, size, out, args.cores, args.device, args.tiny, until=args.until)
                (run_dir / "times.yaml").write_text(yaml.safe_dump(times))
            results = run_dir / "results"
            table = stage_table(results, times["wall_s"], args.cores)
            table.insert(0, "audio_s", audio_seconds(results))
            table.insert(0, "size", size)
            table.insert(0, "model", model + ("-tiny" if args.tiny else ""))
            frames.append(table)
            print(f"== {model} {size}: {table['audio_s'].iloc[0]:.0f} s of audio, run {times['wall_s']:.0f} s wall, "
                  f"{times['cpu_s']:.0f} CPU-s ({args.cores} cores, device {args.device})", flush=True)  # fmt: skip
            print(table.drop(columns=["model", "size", "audio_s"]).round(1).to_string(index=False), flush=True)
    if not frames:
        return 0
    stages = pd.concat(frames, ignore_index=True)
    stages.to_csv(out / "stages.tsv", sep="\t", index=False)
    md = [markdown(stages)]
    exponents = growth(stages)
    if len(exponents):
        exponents.to_csv(out / "growth.tsv", sep="\t", index=False)
        print("== growth exponents (cost ~ audio^x between the two sizes)")
        print(exponents.round(2).to_string(index=False))
        projected = projection(stages)
        projected.to_csv(out / "projection.tsv", sep="\t", index=False)
        print("== projection (job-s, peak RSS MB, disk MB; gpu_: assumed speed-ups, see bench/scale.py)")
        print(projected.round(0).to_string(index=False))
        md += [markdown(exponents, 2), markdown(projected, 0)]
    (out / "tables.md").write_text("\n\n".join(md) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
