"""A folder built once per test session, also when pytest-xdist spreads the session over workers.

``make test`` runs the suite on one pytest-xdist worker per core. A session-scoped fixture runs
once per worker, so a fixture that runs the whole workflow (minutes) would run once on each: it
goes through ``built_once`` instead, which builds the folder under a file lock in the folder all
workers share (the parent of each worker's basetemp) and hands the finished folder to every
worker that asks. A build that failed is not tried again by the next worker: it fails with the
first one's error.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from pathlib import Path

import pytest
from filelock import FileLock


def shared_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's temporary folder that every xdist worker sees (its own basetemp without
    xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]) -> Path:
    """``root/name``, built by ``build(folder)`` by the first worker that asks for it."""
    root = shared_root(tmp_path_factory)
    folder, done, failed = root / name, root / f"{name}.done", root / f"{name}.failed"
    with FileLock(root / f"{name}.lock"):
        if failed.exists():
            raise AssertionError(f"building {folder} failed earlier in this session:\n{failed.read_text()}")
        if not done.exists():
            try:
                build(folder)
            except BaseException:
                failed.write_text(traceback.format_exc()[-8000:])
                raise
            done.touch()
    return folder
