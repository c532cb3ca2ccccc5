"""The scale study's tables (bench/scale.py) from Snakemake benchmark files with known numbers."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from bench.scale import growth, main, projection, stage_table

COLUMNS = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def _bench(results, corpus, stage, job, s, rss, out_mb, cpu):
    path = results / "benchmarks" / corpus / stage / "m" / f"{job}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(COLUMNS + f"{s}\t0:00:01\t{rss}\t1\t1\t1\t0\t{out_mb}\t50\t{cpu}\n")


def test_stage_table_sums_jobs_and_takes_the_peak(tmp_path):
    _bench(tmp_path, "c", "saes", "layer_1", 10.0, 300.0, 5.0, 9.0)
    _bench(tmp_path, "c", "saes", "layer_2", 20.0, 500.0, 7.0, 19.0)
    _bench(tmp_path, "c", "corpus", "gather", 1.0, 100.0, 1.0, 1.0)
    (tmp_path / "c" / "saes").mkdir(parents=True)
    (tmp_path / "c" / "saes" / "x.bin").write_bytes(b"0" * 2_000_000)
    table = stage_table(tmp_path, wall=40.0, cores=1).set_index("stage")
    assert table.loc["saes", ["jobs", "job_s", "cpu_s", "peak_rss_mb", "written_mb"]].tolist() == [2, 30, 28, 500, 12]
    assert table.loc["saes", "disk_mb"] == pytest.approx(2.0)
    assert table.loc["(other)", "job_s"] == pytest.approx(9.0)  # 40 s wall less 31 benchmarked


def _log(results, corpus, stage, job, cpu):
    """A job's log ending in its CPU line (the format of speechneurons.logs.job_cpu_line)."""
    path = results / "logs" / corpus / stage / "m" / f"{job}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"x INFO y: start\nx INFO y: job CPU: {cpu} s (user {cpu}, system 0.00, child processes 0.00)\n")


def test_stage_table_reads_the_exact_cpu_from_the_jobs_logs(tmp_path):
    """The benchmark files' CPU is sampled (a 44 s job is credited with its first 15.5 s); the logs'
    is exact. A stage with a job whose log has no CPU line has no logged total, not a partial one."""
    _bench(tmp_path, "c", "saes", "layer_1", 59.0, 300.0, 5.0, 30.0)
    _bench(tmp_path, "c", "saes", "layer_2", 20.0, 500.0, 7.0, 19.0)
    _bench(tmp_path, "c", "corpus", "gather", 1.0, 100.0, 1.0, 1.0)
    _log(tmp_path, "c", "saes", "layer_1", 58.5)
    _log(tmp_path, "c", "saes", "layer_2", 19.25)
    (tmp_path / "logs" / "c" / "corpus" / "m").mkdir(parents=True)
    (tmp_path / "logs" / "c" / "corpus" / "m" / "gather.log").write_text("a log from before the line existed\n")
    table = stage_table(tmp_path, wall=100.0, cores=1).set_index("stage")
    assert table.loc["saes", "cpu_s"] == pytest.approx(49.0)
    assert table.loc["saes", "cpu_s_logged"] == pytest.approx(77.75)
    assert math.isnan(table.loc["corpus", "cpu_s_logged"])


def test_growth_is_the_exponent_and_projection_is_linear_beyond_a_fixed_part():
    stages = pd.DataFrame(
        [
            {"model": "m", "stage": "saes", "audio_s": 100.0, "job_s": 20.0, "cpu_s": 20.0, "peak_rss_mb": 500.0,
             "written_mb": 10.0, "disk_mb": 4.0},
            {"model": "m", "stage": "saes", "audio_s": 400.0, "job_s": 50.0, "cpu_s": 80.0, "peak_rss_mb": 500.0,
             "written_mb": 40.0, "disk_mb": 16.0},
        ]
    )  # fmt: skip
    g = growth(stages).iloc[0]
    assert g["cpu_s"] == pytest.approx(1.0) and g["peak_rss_mb"] == pytest.approx(0.0)
    assert g["job_s"] == pytest.approx(math.log(2.5) / math.log(4))
    p = projection(stages).iloc[0]
    hours = 5.4 * 3600
    assert p["job_s@dev-clean"] == pytest.approx(10.0 + 0.1 * hours)  # 10 s fixed + 0.1 s per audio second
    assert p["peak_rss_mb@dev-clean"] == pytest.approx(500.0)
    assert p["gpu_job_s@dev-clean"] < p["job_s@dev-clean"]


def test_markdown_table_has_a_header_and_one_line_per_row():
    from bench.scale import markdown

    text = markdown(pd.DataFrame({"stage": ["a", "b"], "x": [1.234, float("nan")]}))
    assert text.splitlines() == ["| stage | x |", "|---|---|", "| a | 1.2 |", "| b |  |"]


def test_a_finished_results_folder_is_tabulated_with_both_totals(tmp_path, capsys):
    _bench(tmp_path, "c", "saes", "layer_1", 59.0, 300.0, 5.0, 30.0)
    _bench(tmp_path, "c", "corpus", "gather", 1.0, 100.0, 1.0, 1.0)
    _log(tmp_path, "c", "saes", "layer_1", 58.5)
    _log(tmp_path, "c", "corpus", "gather", 1.25)
    assert main(["--results", str(tmp_path)]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert (
        last
        == "all: 2 benchmarked jobs, 60 job-s; CPU-s: 31 in the benchmark files (sampled), 60 in the jobs' logs (exact)"
    )
    (tmp_path / "logs" / "c" / "corpus" / "m" / "gather.log").write_text("a log from before the line\n")
    assert main(["--results", str(tmp_path)]) == 0
    assert (
        capsys.readouterr()
        .out.splitlines()[-1]
        .endswith("(sampled), no exact total: some job logs predate their CPU line")
    )
