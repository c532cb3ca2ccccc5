"""The pitch rules on a hand-made manifest: outputs, and binning changes that do not rerun F0."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from speechneurons.audio import write_wav
from speechneurons.io import read_json
from tests.helpers.layout import RESULTS as L

REPO = Path(__file__).resolve().parents[2]
TARGETS = [L.pitch_frames("synth"), L.pitch_figure("synth")]
RULES = ["--allowed-rules", "pitch_f0", "pitch_groups", "pitch_figure"]


def snakemake(work: Path, *args: str) -> str:
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(REPO / "Snakefile"),
        "--directory",
        str(work),
        "--cores",
        "1",
        *RULES,
        *args,
        "--",
        *TARGETS,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=work, env={**os.environ, "MPLBACKEND": "Agg"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc.stdout + proc.stderr


@pytest.mark.slow
def test_pitch_rules_and_reruns(tmp_path):
    work = tmp_path
    shutil.copy(REPO / "config.yaml", work / "config.yaml")
    rows = []
    for spk, gender, f0 in [("s1", "F", 210.0), ("s2", "M", 110.0)]:
        for u in range(2):
            n = 12000 + 321 * u + 7
            t = (np.arange(n) + 0.5) / 16000
            x = 0.3 * np.sin(2 * np.pi * f0 * (1 + 0.1 * u) * t)
            x[:2000] = 0.0
            path = work / "audio" / f"{spk}_{u}.wav"
            write_wav(path, x, 16000)
            rows.append((f"{spk}_{u}", str(path), spk, gender, n / 16000, 16000, "x", "train"))
    manifest = work / L.manifest("synth")
    manifest.parent.mkdir(parents=True)
    columns = ["utt_id", "audio_path", "speaker", "gender", "duration_s", "sample_rate", "transcript", "split"]
    pd.DataFrame(rows, columns=columns).to_csv(manifest, sep="\t", index=False)

    snakemake(work)
    frames = pd.read_parquet(work / L.pitch_frames("synth"))
    assert list(frames.columns) == ["utt_id", "frame", "f0_hz", "voiced", "pitch_bin"]
    assert str(frames["pitch_bin"].dtype) == "int8" and (frames.loc[~frames.voiced, "pitch_bin"] == -1).all()
    bins = read_json(work / L.pitch_bins("synth"))
    assert bins["n_bins"] == 3 and len(bins["cut_points_hz"]["all"]) == 2

    (work / "override.yaml").write_text("pitch:\n  n_bins: 4\n  binning: per_gender\n")
    out = snakemake(work, "-n", "--configfile", "override.yaml")
    assert "pitch_groups" in out and "rule pitch_f0" not in out
    (work / "override.yaml").write_text("pitch:\n  floor_hz: 70\n")
    out = snakemake(work, "-n", "--configfile", "override.yaml")
    assert "rule pitch_f0" in out
