"""A real single-node SLURM cluster with real accounting, for tests of the SLURM profile.

``slurm_cluster()`` brings up, in a fresh temporary folder and on free local ports:

    munged      its own key and socket (no /etc/munge, no /run/munge)
    mariadbd    the accounting database, bound to 127.0.0.1, its data dir in the folder
    slurmdbd    accounting (``sacct`` is what the executor plugin polls for job states)
    slurmctld   one cluster, one partition
    slurmd      one node: this machine, its CPU count, memory declared (config_overrides)

It waits until ``sinfo`` shows the node idle and ``sacct`` answers, yields a ``SlurmCluster``
(its ``env`` points SLURM clients at the cluster through ``SLURM_CONF``), and in ``finally``
cancels every job, stops exactly the daemons it started (by the pids it kept), and kills what
their jobs left behind (processes whose environment names this cluster's slurm.conf). A
SIGTERM while the cluster is up (a hard time limit) is turned into an exception so that the
tear-down runs too.

No systemd and no system-wide configuration: every daemon runs in the foreground, in the
caller's process group (a hard kill of the group takes them down as well), with its
configuration, state and logs under the temporary folder.

Missing Debian packages (envs/apt-test-packages.txt) are installed when running as root with
apt-get; otherwise the test is skipped with the reason.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
APT_TEST_PACKAGES = REPO / "envs" / "apt-test-packages.txt"
SBIN = ("/usr/sbin", "/sbin", "/usr/local/sbin")
# The programs the cluster needs, with the Debian package that ships each.
PROGRAMS = {
    "munged": "munge",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "slurmdbd": "slurmdbd",
    "slurmctld": "slurmctld",
    "slurmd": "slurmd",
    "sbatch": "slurm-client",
    "sacct": "slurm-client",
    "sacctmgr": "slurm-client",
    "sinfo": "slurm-client",
    "srun": "slurm-client",
}
# The accounting plugin of slurmdbd lives in its own package (a dependency of slurmdbd).
MYSQL_PLUGIN = "accounting_storage_mysql.so"


class ClusterInterrupted(KeyboardInterrupt):
    """SIGTERM arrived while the cluster was up (a hard time limit): tear down, then stop the
    session (pytest treats a KeyboardInterrupt as the end of the run)."""


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))


def _missing_programs() -> list[str]:
    return [name for name in PROGRAMS if _which(name) is None]


def _install_packages() -> str | None:
    """Install envs/apt-test-packages.txt with apt-get; None on success, else the reason."""
    packages = [
        line.strip()
        for line in APT_TEST_PACKAGES.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return f"cannot install {' '.join(packages)} (not root, or no apt-get)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages]
    try:
        if subprocess.run(install, env=env, capture_output=True, timeout=600).returncode != 0:
            subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=300)
            proc = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
            if proc.returncode != 0:
                return f"apt-get install {' '.join(packages)} failed: {proc.stderr[-500:]}"
    except subprocess.TimeoutExpired:
        return "apt-get timed out"
    return None


def slurm_unavailable() -> str | None:
    """Why no SLURM test cluster can be brought up here (None when the SLURM, munge and MariaDB
    programs are, or could be, installed)."""
    missing = _missing_programs()
    if missing:
        reason = _install_packages()
        if reason is None:
            missing = _missing_programs()
            reason = f"still missing after installation: {' '.join(missing)}" if missing else None
        if reason is not None:
            return f"no SLURM test cluster: missing {' '.join(missing)}; {reason}"
    return None


def require_slurm() -> None:
    """Skip the calling test unless the SLURM, munge and MariaDB programs are (or can be) installed."""
    reason = slurm_unavailable()
    if reason is not None:
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _node_resources() -> tuple[int, int]:
    """CPUs and memory (MB) of this machine as slurmd sees them (``slurmd -C``)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True).stdout
    fields = dict(item.split("=", 1) for item in out.split() if "=" in item)
    cpus = int(fields.get("CPUs", os.cpu_count() or 1))
    mem = int(fields.get("RealMemory", 1024))
    return cpus, mem


@dataclass
class SlurmCluster:
    root: Path
    conf: Path
    partition: str
    node: str
    cpus: int
    mem_mb: int
    env: dict[str, str]
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)

    @property
    def pids(self) -> dict[str, int]:
        return {name: proc.pid for name, proc in self.procs.items()}

    def run(self, *cmd: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        """A SLURM client command against this cluster."""
        proc = subprocess.run(cmd, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()}")
        return proc

    def jobs(self) -> list[dict[str, str]]:
        """Every job of the cluster's accounting (``sacct``), one dict per job allocation."""
        fields = [
            "JobIDRaw",
            "JobName",
            "Comment",
            "State",
            "ExitCode",
            "Partition",
            "AllocCPUS",
            "ReqMem",
            "Start",
            "End",
            "Elapsed",
        ]
        out = self.run(
            "sacct",
            "--allusers",
            "--allocations",
            "--noheader",
            "--parsable2",
            "--starttime",
            "2000-01-01",
            "--format",
            ",".join(fields),
        ).stdout
        return [dict(zip(fields, line.split("|"))) for line in out.splitlines() if line.strip()]

    def logs(self, tail: int = 30) -> str:
        """The last lines of every daemon log, for error messages."""
        parts = []
        for path in sorted((self.root / "log").glob("*")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)


def _write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def _wait(what: str, ready, timeout: float, cluster: SlurmCluster, interval: float = 0.5) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in cluster.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited ({proc.returncode}) while waiting for {what}\n{cluster.logs()}")
        if ready():
            return
        time.sleep(interval)
    raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}\n{cluster.logs()}")


def _start(cluster: SlurmCluster, name: str, cmd: list[str]) -> None:
    log = open(cluster.root / "log" / f"{name}.out", "ab")  # noqa: SIM115 (closed once Popen holds it)
    try:
        # Same process group as the caller: a hard kill of the group also ends the daemons.
        cluster.procs[name] = subprocess.Popen(
            cmd, env=cluster.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
    finally:
        log.close()


def _stop(proc: subprocess.Popen, grace: float) -> None:
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        proc.wait(5)


def _leftovers(conf: Path) -> list[int]:
    """Processes started on behalf of this cluster (job steps, jobs) that outlived its daemons:
    their environment names this cluster's own slurm.conf, a path no other process uses."""
    marker = f"SLURM_CONF={conf}".encode()
    mine = {os.getpid(), os.getppid()}
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in mine:
            continue
        try:
            env = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if marker in env:
            found.append(int(entry.name))
    return found


def _teardown(cluster: SlurmCluster) -> None:
    alive = lambda name: name in cluster.procs and cluster.procs[name].poll() is None  # noqa: E731
    if alive("slurmctld"):
        # Cancel every job first so that slurmd ends their steps while it still runs.
        with contextlib.suppress(Exception):
            ids = cluster.run("squeue", "--noheader", "--format=%i", "--states=all", check=False).stdout.split()
            if ids:
                cluster.run("scancel", *ids, check=False)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline:
                    left = cluster.run("squeue", "--noheader", "--format=%i", check=False).stdout.split()
                    if not left:
                        break
                    time.sleep(0.5)
    for name in ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged"):
        if name in cluster.procs:
            _stop(cluster.procs[name], grace=15)
    for pid in _leftovers(cluster.conf):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def _configure(root: Path, partition: str, cluster_name: str) -> SlurmCluster:
    for sub in ("bin", "etc", "log", "run", "state", "spool", "munge", "mysql"):
        (root / sub).mkdir(mode=0o700)
    user = getpass.getuser()
    node = socket.gethostname().split(".")[0]
    cpus, real_mem = _node_resources()
    # The rules ask for up to 8 GB; the test jobs use far less. Memory is declared, not measured
    # (config_overrides), so that a small CI runner still schedules them.
    mem_mb = max(real_mem, 16000)
    ports = {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mysql")}
    db_pass = secrets.token_hex(16)
    socket_munge = root / "munge" / "munge.socket"
    auth = f"AuthType=auth/munge\nAuthInfo=socket={socket_munge}\n"

    conf = _write(
        root / "etc" / "slurm.conf",
        f"""\
ClusterName={cluster_name}
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ports["slurmctld"]}
SlurmdPort={ports["slurmd"]}
SlurmUser={user}
SlurmdUser={user}
{auth}CredType=cred/munge
StateSaveLocation={root / "state"}
SlurmdSpoolDir={root / "spool"}
SlurmctldPidFile={root / "run" / "slurmctld.pid"}
SlurmdPidFile={root / "run" / "slurmd.pid"}
SlurmctldLogFile={root / "log" / "slurmctld.log"}
SlurmdLogFile={root / "log" / "slurmd.log"}
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=300
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort={ports["slurmdbd"]}
AccountingStoragePass={socket_munge}
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={mem_mb} State=UNKNOWN
PartitionName={partition} Nodes={node} Default=YES MaxTime=INFINITE State=UP
""",
    )
    # slurmdbd reads slurmdbd.conf next to slurm.conf; it must be private to SlurmUser.
    _write(
        root / "etc" / "slurmdbd.conf",
        f"""\
{auth}DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort={ports["slurmdbd"]}
SlurmUser={user}
PidFile={root / "run" / "slurmdbd.pid"}
LogFile={root / "log" / "slurmdbd.log"}
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort={ports["mysql"]}
StorageUser=slurm
StoragePass={db_pass}
StorageLoc=slurm_acct_db
""",
        mode=0o600,
    )
    as_user = f"user={user}\n" if os.geteuid() == 0 else ""
    _write(
        root / "etc" / "my.cnf",
        f"""\
[mysqld]
{as_user}datadir={root / "mysql"}
socket={root / "run" / "mysqld.sock"}
pid-file={root / "run" / "mysqld.pid"}
log-error={root / "log" / "mariadbd.log"}
port={ports["mysql"]}
bind-address=127.0.0.1
skip-name-resolve
skip-log-bin
innodb_buffer_pool_size=64M
innodb_log_file_size=16M
innodb_lock_wait_timeout=900
init-file={root / "etc" / "init.sql"}
""",
        mode=0o600,
    )
    _write(
        root / "etc" / "init.sql",
        f"""\
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '{db_pass}';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
""",
        mode=0o600,
    )
    key = root / "munge" / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o600)

    # Inside a job, snakemake-executor-plugin-slurm-jobstep 0.6.1 starts the rule with `srun`
    # after removing SLURM_CONF (every SLURM_* variable but the job's identity) from its
    # environment, so srun would look for /etc/slurm/slurm.conf. The cluster's own srun, first
    # on PATH (which the jobs inherit), puts SLURM_CONF back.
    srun = _write(root / "bin" / "srun", f'#!/bin/sh\nSLURM_CONF={conf} exec {_which("srun")} "$@"\n', 0o755)
    env = {
        **os.environ,
        "SLURM_CONF": str(conf),
        "PATH": os.pathsep.join([str(srun.parent), os.environ.get("PATH", ""), *SBIN]),
    }
    for var in [v for v in env if v.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_", "SQUEUE_", "SACCT_"))]:
        if var != "SLURM_CONF":
            del env[var]  # no settings of another cluster or of an enclosing job
    return SlurmCluster(root, conf, partition, node, cpus, mem_mb, env)


def _ok(cluster: SlurmCluster, *cmd: str) -> bool:
    try:
        return cluster.run(*cmd, check=False, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def _start_all(cluster: SlurmCluster, cluster_name: str, timeout: float) -> None:
    root = cluster.root
    _start(
        cluster,
        "munged",
        [
            _which("munged"),
            "--foreground",
            "--force",
            f"--socket={root / 'munge' / 'munge.socket'}",
            f"--key-file={root / 'munge' / 'munge.key'}",
            f"--pid-file={root / 'run' / 'munged.pid'}",
            f"--log-file={root / 'log' / 'munged.log'}",
            f"--seed-file={root / 'munge' / 'munged.seed'}",
        ],
    )
    _wait("munged", lambda: (root / "munge" / "munge.socket").exists(), timeout, cluster)

    my_cnf = root / "etc" / "my.cnf"
    proc = subprocess.run(
        [
            _which("mariadb-install-db"),
            f"--defaults-file={my_cnf}",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"mariadb-install-db failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    _start(cluster, "mariadbd", [_which("mariadbd"), f"--defaults-file={my_cnf}"])
    mysql_port = int(next(line.split("=")[1] for line in my_cnf.read_text().splitlines() if line.startswith("port=")))

    def db_up() -> bool:
        with socket.socket() as s, contextlib.suppress(OSError):
            s.settimeout(1)
            s.connect(("127.0.0.1", mysql_port))
            return True
        return False

    _wait("mariadbd", db_up, timeout, cluster)

    _start(cluster, "slurmdbd", [_which("slurmdbd"), "-D"])
    _wait("slurmdbd", lambda: _ok(cluster, "sacctmgr", "--noheader", "list", "cluster"), timeout, cluster)
    cluster.run("sacctmgr", "--immediate", "add", "cluster", cluster_name)

    _start(cluster, "slurmctld", [_which("slurmctld"), "-D"])
    _wait("slurmctld", lambda: _ok(cluster, "scontrol", "ping"), timeout, cluster)
    _start(cluster, "slurmd", [_which("slurmd"), "-D"])

    def node_idle() -> bool:
        out = cluster.run("sinfo", "--noheader", "--Node", "--format=%t", check=False).stdout.split()
        return out == ["idle"]

    _wait("the node to be idle (sinfo)", node_idle, timeout, cluster)
    _wait("sacct", lambda: _ok(cluster, "sacct", "--noheader", "--allusers"), timeout, cluster)


@contextlib.contextmanager
def slurm_cluster(
    base: Path | None = None, *, partition: str = "debug", name: str = "snktest", timeout: float = 90
) -> Iterator[SlurmCluster]:
    """Bring up a single-node SLURM cluster with accounting; tear it down on exit (see module doc).

    ``base``: a folder to create the cluster's folder in (default: the system temp folder; keep it
    short, a unix socket path has at most 107 characters)."""
    require_slurm()
    root = Path(tempfile.mkdtemp(prefix="slurm-", dir=base))
    cluster = _configure(root, partition, name)

    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if in_main else None

    def on_sigterm(signum, frame):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # once: the tear-down must not be interrupted
        raise ClusterInterrupted("SIGTERM: tearing the SLURM test cluster down")

    if in_main:
        signal.signal(signal.SIGTERM, on_sigterm)
    try:
        _start_all(cluster, name, timeout)
        yield cluster
    finally:
        try:
            _teardown(cluster)
        finally:
            if in_main:
                signal.signal(signal.SIGTERM, previous)
            if os.environ.get("SLURM_TEST_KEEP") != "1":
                shutil.rmtree(root, ignore_errors=True)
