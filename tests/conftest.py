"""Shared pytest set-up: seeded, CPU-only, headless."""

import os
import random
from pathlib import Path

# The suite runs on one pytest-xdist worker per core, and each worker's workflow runs start jobs
# of two torch threads: more threads than cores. OpenMP's default wait policy spins a thread
# that waits for the others, and with the cores taken each torch operation waits for a thread
# that is not running: 3,000 matrix products of 256 x 256 on 2 threads took 55.6 s beside two
# busy processes, 1.2 s with PASSIVE (a waiting thread sleeps; the same numbers). Set before
# numpy or torch load their OpenMP; the workflow's jobs inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

REPO = Path(__file__).resolve().parents[1]

# `make test` runs the suite on one pytest-xdist worker per core, one test module at a time per
# worker (--dist loadscope: a module's fixture runs once). The modules that take minutes start
# first, longest first, so that none of them is left to start last on one worker while the
# others idle; every other module keeps its place. Seconds of one run, one worker, 2 cores:
LONGEST_FIRST = {
    "tests/workflow/test_slurm.py": 775,
    "tests/workflow/test_smoke.py": 420,  # the first to ask for the session's ci-tiny run (388 s)
    "tests/workflow/test_librispeech.py": 358,
    "tests/workflow/test_positive_controls.py": 195,
    "tests/core/test_layer_memory.py": 69,
    "tests/workflow/test_bad_input.py": 45,
    "tests/workflow/test_real_speech.py": 42,
    "tests/workflow/test_model_download.py": 40,
    "tests/workflow/test_compare.py": 35,
    "tests/positive_controls/test_sae_control.py": 35,
    "tests/workflow/test_align.py": 29,
    "tests/activations/test_memory.py": 28,
}


def pytest_collection_modifyitems(config, items):
    """The modules of LONGEST_FIRST first, in its order. Inside the SLURM test's module the SLURM
    run goes first: a worker is sent its next module when two tests of its current one are left,
    and with the run first the worker holds three short tests, not a queued minutes-long module,
    while it waits on the cluster."""

    def key(item):
        module = item.nodeid.split("::")[0]
        first = module == "tests/workflow/test_slurm.py" and item.get_closest_marker("slow") is not None
        return (-LONGEST_FIRST.get(module, 0), not first)

    items.sort(key=key)


def pytest_configure(config):
    """Under pytest-xdist, each worker's torch gets its share of the cores (torch would start one
    thread per core in every worker)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.fixture(autouse=True)
def _seed():
    random.seed(0)
    np.random.seed(0)
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture
def repo() -> Path:
    return REPO
