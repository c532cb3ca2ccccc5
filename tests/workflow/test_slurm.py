"""The SLURM profile (profiles/slurm) against a real single-node SLURM cluster with accounting.

The slow test brings the cluster up (tests/helpers/slurm.py), runs the ci-tiny workflow through
``--profile profiles/slurm`` with the profile's placeholders overridden on the command line as
the user of a one-partition, CPU-only cluster would, and checks that every job really went
through sbatch (the cluster's accounting: one job per ungrouped workflow job and one per group
job of the test's two groups, named after this run and commented with its rule or group, all
COMPLETED; the SLURM logs of these jobs show every rule of the DAG run inside them) and that
its results, written into an absolute folder outside its working directory, equal the session's
local ci-tiny run (tests/workflow/conftest.py) file for file, byte for byte: the run is also the
reproducibility check of two runs into two folders.

The fast test checks, with a dry run, that the profile still names the rules that ask for a GPU.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.helpers.layout import RESULTS as L
from tests.helpers.slurm import slurm_cluster
from tests.workflow.conftest import CI_TINY_ARGS, assert_same_bytes

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "profiles" / "slurm"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile")]
# Hard limit (seconds) of each workflow run: the SLURM run of ci-tiny took 13 min on a busy
# 2-core machine. SIGTERM, then SIGKILL, on expiry.
RUN_LIMIT = int(os.environ.get("SPEECHNEURONS_SLURM_TEST_LIMIT", "1800"))
CONFIG = ["--configfile", "configs/ci-tiny.yaml"]
# The same on a cluster without GPUs: device cpu, so that no rule asks for one.
CPU_CONFIG = [*CONFIG, "cpu.yaml"]
# Outputs compared with a local run when the node has fewer threads than the session's run (paths
# under results/ci-tiny; corpus ci-tiny, model tinyhubert): every stage up to the property neurons.
C, M = "ci-tiny", "tinyhubert"
COMPARED = [
    L.manifest(C),
    L.frame_labels(C, "pocketsphinx"),
    L.pitch_frames(C),
    f"{L.iteration_final(C, M, 1)}/model.safetensors",
    L.activation_array("mid", 1, C, M, "final"),
    L.activation_array("mid", 2, C, M, "final"),
    L.property_neurons(1, C, M, "final"),
    L.property_neurons(2, C, M, "final"),
    L.properties_summary(C, M, "final"),
]
# What the local run is asked for: the property neurons pull in every compared file.
LOCAL_TARGETS = [L.properties_summary(C, M, "final")]
# In this test the whole DAG goes to the cluster in three sbatch jobs: model_pretrain alone (as
# every rule outside the profile's groups is on a real cluster), the rules before it in one group
# job ("prepare": corpus, alignment, pitch, pretraining targets) and every rule after it in
# another ("analysis"). Inside a group job the jobstep plugin runs the jobs one after another,
# each an srun step with its own Snakemake (about 4 s of start-up beyond its work), so fewer
# sbatch jobs save only their own start-up and the plugin's sacct back-off (10 s more per poll
# that finds nothing finished): 729 s with these 3, 853 s with a group per stage (12), 1,051 s
# with the previous profile's groups (48), against the local run's 258 s. The profile's own
# groups, which these replace on the command line, are checked by the dry run of
# test_profile_groups_name_existing_rules. Every rule still runs inside an sbatch job.
PREPARE = ("corpus_", "align_", "pitch_", "model_targets")
UNGROUPED = ("all", "model_pretrain")


def run_group(rule: str) -> str | None:
    """The group of a rule in the SLURM run of this test (None: its own sbatch job, or the target
    rule 'all', which Snakemake runs itself)."""
    if rule in UNGROUPED:
        return None
    return "prepare" if rule.startswith(PREPARE) else "analysis"


def profile_config() -> dict:
    """profiles/slurm/config.yaml, parsed."""
    return yaml.safe_load((PROFILE / "config.yaml").read_text())


def environment(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a workflow run: the repository's own code first on PYTHONPATH.
    The SLURM executor submits with ``sbatch --export=ALL``, so the jobs inherit it."""
    pythonpath = os.pathsep.join(p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, **(extra or {}), "PYTHONPATH": pythonpath, "MPLBACKEND": "Agg", "HF_HUB_OFFLINE": "1"}
    return env


def make_workdir(path: Path) -> Path:
    """A working directory with config.yaml, configs/ and ``cpu.yaml`` (device: cpu, so that no
    job asks a CPU-only cluster for a GPU)."""
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.yaml").write_text((REPO / "config.yaml").read_text())
    (path / "configs").mkdir(exist_ok=True)
    for f in (REPO / "configs").glob("*.yaml"):
        (path / "configs" / f.name).write_text(f.read_text())
    (path / "cpu.yaml").write_text(yaml.safe_dump({"device": "cpu"}))
    return path


def _descendants(pid: int) -> list[int]:
    children = collections.defaultdict(list)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children[int(fields[1])].append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def run_limited(cmd: list[str], cwd: Path, env: dict[str, str], limit: float) -> subprocess.CompletedProcess:
    """Run ``cmd`` under a hard time limit: on expiry SIGTERM, then SIGKILL, to it and everything
    it started (Snakemake waiting on a job state can ignore SIGTERM)."""
    with open(cwd / "snakemake.out", "w+") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
        try:
            proc.wait(limit)
        except BaseException as exc:
            victims = [proc.pid, *_descendants(proc.pid)]
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in victims:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, sig)
                try:
                    proc.wait(5)
                    break
                except subprocess.TimeoutExpired:
                    continue
            if not isinstance(exc, subprocess.TimeoutExpired):
                raise
            out.seek(0)
            raise AssertionError(f"{shlex.join(cmd)} hit its {limit:.0f} s limit:\n{out.read()[-6000:]}") from None
        out.seek(0)
        return subprocess.CompletedProcess(cmd, proc.returncode, out.read(), "")


def user_overrides(partition: str) -> list[str]:
    """What the user of a CPU-only cluster with one partition passes on the command line: every
    partition placeholder of the profile -> that partition, no account (the config's device: cpu
    keeps the GPU rules from asking for a GPU). A command-line value replaces the profile's whole
    mapping, so the profile's other entries are passed again."""
    profile = profile_config()
    default = {**profile.get("default-resources", {}), "slurm_partition": partition}
    default.pop("slurm_account", None)
    per_rule = []
    for rule, resources in profile.get("set-resources", {}).items():
        if "slurm_partition" in resources:
            resources["slurm_partition"] = partition
        per_rule += [f"{rule}:{key}={value}" for key, value in resources.items()]
    return [
        "--default-resources",
        *(f"{key}={value}" for key, value in default.items()),
        "--set-resources",
        *per_rule,
    ]


def job_stats(log: str) -> collections.Counter:
    """Rule -> job count from the first 'Job stats' table of a Snakemake log."""
    match = re.search(r"Job stats:\n(.*?)\n\n", log, flags=re.S)
    assert match, log[-3000:]
    rows = [line.split() for line in match.group(1).splitlines()[2:]]
    return collections.Counter({row[0]: int(row[1]) for row in rows if len(row) == 2 and row[0] != "total"})


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def dry_run_resources(log: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, resources) of every job of a dry run's log."""
    out = []
    for rule, resources in re.findall(r"rule (\w+):\n(?:    .*\n)*?    resources: (.*)\n", log):
        out.append((rule, dict(item.split("=", 1) for item in resources.split(", ") if "=" in item)))
    return out


def dry_run(work: Path, *configs: str) -> str:
    cmd = [*SNAKEMAKE, "--directory", str(work), "-n", "--profile", str(PROFILE), "--configfile", *configs]
    proc = subprocess.run(cmd, cwd=work, env=environment(), capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log[-4000:]
    return log


def test_profile_sends_every_gpu_job_to_a_gpu_partition(tmp_path):
    """With device auto, every job that asks for a GPU gets the profile's GPU partition, and every
    rule the profile names exists (the rule names of rules/ are what set-resources rely on)."""
    work = make_workdir(tmp_path / "work")
    iterations = [{"steps": 30, "n_clusters": 20}, {"steps": 10, "n_clusters": 20, "targets": "layer", "layer": 1}]
    (work / "iter2.yaml").write_text(yaml.safe_dump({"pretrain": {"iterations": iterations}}))
    log = dry_run(work, "configs/ci-tiny.yaml", "iter2.yaml")
    profile = profile_config()
    named = set(profile.get("set-resources", {}))
    rules = set(job_stats(log))
    assert named <= rules, f"the profile names rules the workflow does not have: {sorted(named - rules)}"
    gpu_rules = set()
    for rule, values in dry_run_resources(log):
        if int(values.get("gpu", 0)) > 0:
            gpu_rules.add(rule)
            assert values.get("slurm_partition"), f"{rule} asks for a GPU and gets no partition"
    assert {"model_pretrain", "activations_dump"} <= gpu_rules
    assert gpu_rules <= named


def test_device_cpu_asks_for_no_gpu(tmp_path):
    """device: cpu (a cluster without GPUs): no job asks for a GPU (sbatch --gpus would be
    refused there)."""
    work = make_workdir(tmp_path / "work")
    jobs = dry_run_resources(dry_run(work, "configs/ci-tiny.yaml", "cpu.yaml"))
    assert jobs
    assert not [rule for rule, values in jobs if int(values.get("gpu", 0)) > 0]


def profile_groups() -> dict[str, str]:
    """Rule -> group of the profile's ``groups`` entries."""
    profile = profile_config()
    return dict(entry.split("=", 1) for entry in profile.get("groups", []))


def run_groups(rules) -> list[str]:
    """The command-line ``--groups`` and ``--group-components`` of the SLURM run for the rules of
    its DAG (a command-line value replaces the profile's whole list)."""
    groups = {rule: group for rule in sorted(rules) if (group := run_group(rule))}
    components = [f"{group}=1000" for group in sorted(set(groups.values()))]
    return ["--groups", *(f"{rule}={group}" for rule, group in groups.items()), "--group-components", *components]


def test_profile_groups_name_existing_rules(tmp_path):
    """Every rule the profile groups exists (a renamed rule would silently go ungrouped), and a
    dry run through the profile forms group jobs."""
    work = make_workdir(tmp_path / "work")
    log = dry_run(work, "configs/ci-tiny.yaml", "cpu.yaml")
    rules = set(re.findall(r"^\s*rule (\w+):", "".join(p.read_text() for p in (REPO / "rules").glob("*.smk")), re.M))
    grouped = profile_groups()
    assert set(grouped) <= rules, sorted(set(grouped) - rules)
    # a group job runs its jobs in series: per-layer and per-checkpoint compute stays ungrouped
    assert not {"properties_layer", "dissection_layer", "saes_layer", "trajectories_pwcca"} & set(grouped)
    assert set(re.findall(r"Group job (\w+) ", log)) == {
        "corpus",
        "align",
        "pitch",
        "report",
    }


def submitted_as(comment: str, rules: set[str], groups: set[str]) -> str:
    """The rule or group of a SLURM job from its comment: 'rule_<rule>[_wildcards_...]' for one
    workflow job, 'rule_<group>_<its rules, sorted, the first five>' for a group job."""
    name = comment.removeprefix("rule_").split("_wildcards_")[0]
    if name in rules:
        return name
    return next((group for group in groups if name.startswith(f"{group}_")), name)


def rules_run_in(logdir: Path) -> collections.Counter:
    """Rule -> how many SLURM job logs (under the plugin's log folder) show it run."""
    found = collections.Counter()
    for log in logdir.rglob("*.log"):
        found.update(set(re.findall(r"^\s*(?:local)?rule (\w+):", log.read_text(errors="replace"), re.M)))
    return found


@pytest.mark.slow
def test_ci_tiny_runs_through_slurm_and_matches_a_local_run(request, tmp_path):
    start = time.monotonic()
    with slurm_cluster() as cluster:
        up = time.monotonic() - start
        # The same threads in both runs (torch's results may depend on them), at most the node's.
        threads = str(min(2, cluster.cpus))
        work = make_workdir(tmp_path / "slurm")
        dag_rules = set(job_stats(dry_run(work, "configs/ci-tiny.yaml", "cpu.yaml")))
        # results into an absolute folder outside the working directory: with the byte-for-byte
        # comparison below, this run is also the reproducibility check of two runs into two
        # folders (tests/workflow/test_faults.py leaves it to this test)
        results = tmp_path / "elsewhere" / "out"
        (work / "where.yaml").write_text(yaml.safe_dump({"results_dir": str(results)}))
        cmd = [
            *SNAKEMAKE,
            "--directory",
            str(work),
            "--profile",
            str(PROFILE),
            *CPU_CONFIG,
            "where.yaml",
            *user_overrides(cluster.partition),
            *run_groups(dag_rules),
            "--max-threads",
            threads,
            # The node's CPUs per group job (the profile's cores is for real nodes).
            "--cores",
            threads,
            # Short jobs: first sacct poll after 2 s, not 40 s. Fail at once, no retry.
            "--slurm-init-seconds-before-status-checks",
            "2",
            "--retries",
            "0",
            # The jobs' own logs, kept, to see which rules ran inside each SLURM job.
            "--slurm-logdir",
            str(tmp_path / "slurm-logs"),
            "--slurm-keep-successful-logs",
        ]
        proc = run_limited(cmd, work, environment(cluster.env), RUN_LIMIT)
        log = proc.stdout
        assert proc.returncode == 0, f"{shlex.join(cmd)}\n{log[-6000:]}\n{cluster.logs()}"
        run_id = re.search(r"SLURM run ID: (\S+)", log).group(1)
        jobs = [job for job in cluster.jobs() if job["JobName"] == run_id]
    slurm_time = time.monotonic() - start - up

    # Every workflow job but the target rule 'all' (run by Snakemake itself) ran inside an sbatch
    # job of this run that ran to completion in the partition asked for: an ungrouped job as its
    # own sbatch job, commented with its rule; a grouped one inside its group's sbatch job(s),
    # commented with the group (each group forms at least one group job here).
    expected = job_stats(log)
    expected.pop("all", None)
    grouped = {rule: group for rule in expected if (group := run_group(rule))}
    ungrouped = collections.Counter({rule: n for rule, n in expected.items() if rule not in grouped})
    groups = {grouped[rule] for rule in expected if rule in grouped}
    by_name = collections.Counter(submitted_as(job["Comment"], set(ungrouped), groups) for job in jobs)
    assert +collections.Counter({k: n for k, n in by_name.items() if k not in groups}) == ungrouped, (by_name, expected)
    assert {k for k in by_name if k in groups} == groups, (by_name, groups)
    assert len(jobs) < sum(expected.values()), "the groups must send fewer SLURM jobs than workflow jobs"
    # The SLURM jobs' own logs show every rule of the DAG run inside them.
    assert set(rules_run_in(tmp_path / "slurm-logs")) >= set(expected), (
        rules_run_in(tmp_path / "slurm-logs"),
        expected,
    )
    assert {job["State"] for job in jobs} == {"COMPLETED"}, jobs
    assert {job["ExitCode"] for job in jobs} == {"0:0"}, jobs
    assert {job["Partition"] for job in jobs} == {cluster.partition}, jobs

    if threads == CI_TINY_ARGS[1]:
        # The session's local run of ci-tiny (same config, same threads; its device is auto,
        # which is the CPU here, as device: cpu is): every file, byte for byte. Asked for only
        # now, so that under pytest-xdist another worker runs it while this one runs SLURM.
        ci_tiny_run = request.getfixturevalue("ci_tiny_run")
        assert_same_bytes(ci_tiny_run / "results", results)
    else:
        local = make_workdir(tmp_path / "local")
        targets = list(LOCAL_TARGETS)
        proc = run_limited(
            [*SNAKEMAKE, *targets, "--directory", str(local), "--cores", threads, *CPU_CONFIG],
            local,
            environment(),
            RUN_LIMIT,
        )
        assert proc.returncode == 0, proc.stdout[-6000:]
        in_results = [Path(rel).relative_to("results") for rel in COMPARED]
        differ = [rel for rel in in_results if digest(results / rel) != digest(local / "results" / rel)]
        assert not differ, f"the SLURM run's outputs differ from a local run's: {differ}"
    busy = sum(_seconds(job["Elapsed"]) for job in jobs)
    summary = (
        f"cluster up in {up:.0f} s; {len(jobs)} SLURM jobs for {sum(expected.values())} workflow jobs "
        f"(summed elapsed {busy:.0f} s) in {slurm_time:.0f} s; "
        f"local run of the compared outputs {time.monotonic() - start - up - slurm_time:.0f} s"
    )
    print(f"\n{summary}")
    if os.environ.get("SPEECHNEURONS_SLURM_TEST_SUMMARY"):
        Path(os.environ["SPEECHNEURONS_SLURM_TEST_SUMMARY"]).write_text(summary + "\n")


def _seconds(text: str) -> float:
    """sacct's [DD-][HH:]MM:SS[.mmm] as seconds."""
    days, _, clock = text.rpartition("-")
    parts = [float(p) for p in clock.split(":")]
    while len(parts) < 3:
        parts.insert(0, 0.0)
    return (float(days) if days else 0.0) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
