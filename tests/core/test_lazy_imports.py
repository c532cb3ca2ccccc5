"""Every Snakemake job imports its whole jobs module (scripts/<stage>_<job>.py runs
``speechneurons.<stage>.jobs.<job>``), so a heavy library imported at module level there is paid by
every job of the stage, most of them small (issue 28). The heavy libraries are imported in the jobs
that use them; this test fails when one comes back to module level."""

import json
import subprocess
import sys

STAGES = (
    "activations",
    "align",
    "comparison",
    "corpus",
    "dissection",
    "experiments",
    "findings",
    "model",
    "pitch",
    "properties",
    "saes",
    "trajectories",
)
# torch ~2 CPU-s, transformers ~1, sklearn with scipy ~1.7, matplotlib.pyplot ~0.6
HEAVY = ("torch", "transformers", "sklearn", "scipy", "matplotlib.pyplot")

# one interpreter for all: each jobs module is imported in turn and charged with the heavy
# modules that appeared while it was imported (so a failure names the culprit)
SCRIPT = f"""
import json, sys
heavy = {HEAVY!r}
found = {{}}
for stage in {STAGES!r}:
    before = {{m for m in heavy if m in sys.modules}}
    __import__(f"speechneurons.{{stage}}.jobs")
    found[stage] = sorted(m for m in heavy if m in sys.modules and m not in before)
print(json.dumps(found))
"""


def test_jobs_modules_import_no_heavy_library():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True)
    found = json.loads(done.stdout.splitlines()[-1])
    assert set(found) == set(STAGES)
    heavy = {stage: mods for stage, mods in found.items() if mods}
    assert not heavy, (
        f"jobs modules import heavy libraries at module level: {heavy}; import them in the jobs that use them"
    )
