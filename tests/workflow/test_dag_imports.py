"""Building the DAG imports nothing heavy: a no-op rerun (``snakemake`` on a finished run)
parses the Snakefile and rules/*.smk, and every module they import costs that rerun its import
time (torch alone took 2.6 s of a 3 s budget). The libraries below are imported only where
a job uses them."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("torch", "transformers", "sklearn", "matplotlib", "scipy", "statsmodels", "librosa")


def imported_modules(stderr: str) -> set[str]:
    """Module names of a ``python -X importtime`` report."""
    return set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", stderr, flags=re.M))


def test_parsing_the_workflow_imports_no_heavy_library():
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-X", "importtime", "-m", "snakemake", "--list-target-rules", "--cores", "1"]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "all" in proc.stdout.split()
    modules = imported_modules(proc.stderr)
    assert any(m.startswith("speechneurons.") for m in modules), "the report lists no module of the workflow"
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert not heavy, f"building the DAG imports {heavy[:10]}: import them inside the functions that use them"
