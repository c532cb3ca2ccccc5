"""House rules of the code base: formatted and linted with ruff, scripts that open the same way
and take every path from Snakemake."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = sorted((REPO / "scripts").glob("*.py"))


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", *args], capture_output=True, text=True, cwd=REPO)


def test_ruff_lint_clean():
    proc = _ruff("check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_ruff_format_clean():
    proc = _ruff("format", "--check", ".")
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_every_script_opens_the_same_way(script):
    """A docstring, imports, the injected ``snakemake`` object, then the job inside its log."""
    text = script.read_text()
    assert text.startswith('"""'), "a script starts with a docstring saying what the job does"
    assert 'snakemake = globals()["snakemake"]  # injected by Snakemake\n' in text
    assert re.search(r"^with script_logging\(snakemake\.log\[0\]\)( as log)?:$", text, flags=re.M)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_parse_paths(script):
    """Keys (strategy, sparsity, layer, checkpoint, ...) arrive as params or wildcards."""
    text = script.read_text()
    for pattern in (r"\.parts\b", r"\.parent\b", r"removeprefix", r"\.split\([\"']/"):
        assert not re.search(pattern, text), f"{script.name} parses a path ({pattern})"
