"""The results folder's run lock and start-up check.

Snakemake's own lock lives in the working directory (``.snakemake/locks``), so two clones (or
any two working directories) whose config names the same absolute ``results_dir`` would write
the same files at once. :func:`acquire` takes a second lock inside the results folder,
``<results>/.speechneurons.lock``, for the whole run (the Snakefile's ``onstart``; released in
``onsuccess``/``onerror``): an exclusive ``flock`` held by the Snakemake process, with the
holder's pid, host, working directory, command and config files written in the file for the
message that refuses a second run. The kernel drops a ``flock`` when its process dies, so a run
killed with ``kill -9`` never leaves the lock blocking: the next run finds the file, takes the
lock and overwrites the record. Where the file system has no ``flock`` (some network file
systems), the record alone decides: a run of a live process on this host, or of any process on
another host, blocks, and ``snakemake --unlock`` removes the record (:func:`unlock`).

Dry runs (``-n``) and ``--unlock`` take no lock: they write nothing in the results folder.

:func:`check_writable` is the start-up check that the results folder can be written (one line
instead of a traceback from the first job).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

LOCK_NAME = ".speechneurons.lock"

_held: dict[str, int] = {}  # absolute results folder -> fd holding its flock


class RunLockedError(RuntimeError):
    """Another run holds the results folder."""


class NotWritableError(RuntimeError):
    """The results folder cannot be written."""


def lock_path(results_dir: str | Path) -> Path:
    return Path(os.path.abspath(results_dir)) / LOCK_NAME


def _record(configfiles=()) -> dict:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "command": " ".join(sys.argv),
        "configfiles": [os.path.abspath(c) for c in configfiles],
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z"),
    }


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _describe(rec: dict) -> str:
    return (
        f"process {rec.get('pid', '?')} on host {rec.get('host', '?')}, working directory {rec.get('cwd', '?')}"
        f" (started {rec.get('started', '?')}: {rec.get('command', '?')})"
    )


def _refusal(results_dir: Path, rec: dict, stale_hint: bool) -> RunLockedError:
    msg = f"{results_dir} is in use by another run: {_describe(rec)}. Wait for it to finish or stop it"
    if stale_hint:
        msg += f"; if that run is over, clear its lock with snakemake --unlock (or remove {results_dir / LOCK_NAME})"
    return RunLockedError(msg)


def _flock(fd: int) -> bool:
    """Try the exclusive lock: True taken, False held by another process; raises OSError where
    the file system has no flock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as err:
        if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def acquire(results_dir: str | Path, configfiles=()) -> Path:
    """Take the run lock of ``results_dir`` for the life of this process (or until
    :func:`release`); raise :class:`RunLockedError` naming the holder when another run has it."""
    root = Path(os.path.abspath(results_dir))
    key = str(root)
    if key in _held:
        return root / LOCK_NAME
    root.mkdir(parents=True, exist_ok=True)
    path = root / LOCK_NAME
    for _ in range(10):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            taken = _flock(fd)
        except OSError:  # no flock here: the record decides
            os.close(fd)
            rec = _read(path)
            other = rec and rec.get("pid") != os.getpid()
            if other and (rec.get("host") != socket.gethostname() or _pid_alive(int(rec.get("pid", 0)))):
                raise _refusal(root, rec, stale_hint=True) from None
            _write_record(path, _record(configfiles))
            _held[key] = -1
            return path
        if not taken:
            rec = _read(path)
            os.close(fd)
            raise _refusal(root, rec, stale_hint=False)
        # the file may have been removed (released) between open and flock: lock the one in place
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if not same:
            os.close(fd)
            continue
        data = json.dumps(_record(configfiles), indent=1).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
        _held[key] = fd
        return path
    raise RunLockedError(f"{path}: could not take the run lock (the file keeps being replaced)")


def _write_record(path: Path, rec: dict) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(rec, indent=1), encoding="utf-8")
    os.replace(tmp, path)


def release(results_dir: str | Path) -> None:
    """Give the run lock back (remove the record); nothing when this process does not hold it."""
    root = Path(os.path.abspath(results_dir))
    fd = _held.pop(str(root), None)
    if fd is None:
        return
    with contextlib.suppress(FileNotFoundError):
        (root / LOCK_NAME).unlink()
    if fd >= 0:
        os.close(fd)


def unlock(results_dir: str | Path) -> str | None:
    """``snakemake --unlock``: remove the lock record unless a live run holds it. Returns what
    was done (None when there was no lock)."""
    root = Path(os.path.abspath(results_dir))
    path = root / LOCK_NAME
    if not path.exists():
        return None
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        try:
            taken = _flock(fd)
        except OSError:
            taken = True  # no flock: --unlock is the way to clear the record
        if not taken:
            return f"not removed: {path} is held by a live run, {_describe(_read(path))}"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return f"removed the run lock {path}"
    finally:
        os.close(fd)


def last_run(path: str | Path) -> dict | None:
    """The record of the run holding the results folder that contains ``path`` (searched
    upwards), or None."""
    for folder in Path(os.path.abspath(path)).parents:
        rec_path = folder / LOCK_NAME
        if rec_path.is_file():
            return _read(rec_path) or None
    return None


def check_writable(results_dir: str | Path) -> None:
    """Raise :class:`NotWritableError` (one line) unless files can be created in ``results_dir``
    and in every folder under it."""
    root = Path(os.path.abspath(results_dir))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise NotWritableError(
            f"results_dir {root} cannot be created ({err.strerror}): choose another results_dir or fix the permissions"
        ) from None
    try:
        with tempfile.NamedTemporaryFile(dir=root, prefix=".write-test.", delete=True):
            pass
    except OSError as err:
        raise NotWritableError(
            f"results_dir {root} cannot be written ({err.strerror}): choose another results_dir or fix the permissions"
        ) from None
    for folder, dirs, _ in os.walk(root):  # a job removes its old outputs first: every folder
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder = Path(folder)
        if not os.access(folder, os.W_OK | os.X_OK):
            raise NotWritableError(
                f"results_dir {root} cannot be written ({folder}: permission denied): "
                "choose another results_dir or fix the permissions (chmod -R u+w)"
            )


def start_run(results_dir: str | Path, configfiles=()) -> None:
    """The Snakefile's ``onstart``: the writability check, then the run lock. On failure print
    one line and stop the run (exit status 1) before any job starts."""
    try:
        check_writable(results_dir)
        acquire(results_dir, configfiles)
    except (NotWritableError, RunLockedError) as err:
        print(f"Error: {err}", file=sys.stderr, flush=True)
        raise SystemExit(1) from None


def unlock_requested(argv=None) -> bool:
    """Whether this Snakemake process was started with ``--unlock``."""
    return "--unlock" in (sys.argv if argv is None else argv)


def check_results_path(results_dir: str | Path) -> None:
    """At parse time (dry runs too): stop with one line when ``results_dir`` can never be a
    folder (it, or a folder it would be created in, is a file)."""
    path = Path(os.path.abspath(results_dir))
    for p in [path, *path.parents]:
        if p.exists():
            if not p.is_dir():
                print(
                    f"Error: results_dir {path} cannot be created ({p} is a file): choose another results_dir",
                    file=sys.stderr,
                    flush=True,
                )
                raise SystemExit(1)
            return
