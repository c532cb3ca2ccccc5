"""Atomic file output and table I/O shared by every stage.

Every output is first written to a temporary sibling and then renamed into place
(``os.replace`` is atomic on POSIX), so an interrupted run never leaves a half-written
file that looks finished. A writer first removes what an interrupted write of the same output
left behind (a ``kill -9`` never reaches its clean-up), and gives the file the mode the process
umask asks for (temporaries are created private, 0600).

Checked outputs: every array and table (``.npy``, ``.npz``, ``.parquet``, ``.tsv``, ``.csv``)
is written with a sidecar ``<name>.sum`` (its size and SHA-256 checksum, ``size=<n>
sha256=<hex>``); :func:`read_table`, :func:`load_array` and :func:`load_npz` verify it before
use and stop with :class:`DamagedFileError` (naming the file and the command that rebuilds it)
when the file was truncated or changed. A file without a sidecar (an input of the user's) is
read unchecked. ``make repair`` (:mod:`speechneurons.repair`) finds and rebuilds damaged files.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from speechneurons.errors import BadInputError

#: Suffixes of the files written with a checksum sidecar and verified on reading.
CHECKED_SUFFIXES = (".npy", ".npz", ".parquet", ".tsv", ".csv")
#: Suffix of the sidecar: ``mid.npy`` -> ``mid.npy.sum``.
SIDECAR_SUFFIX = ".sum"
_CHUNK = 1 << 20


class DamagedFileError(BadInputError):
    """A checked output no longer matches its sidecar (truncated, overwritten, corrupted)."""


def _umask() -> int:
    """The process umask, read without changing it where Linux allows (thread-safe)."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _public(path: Path, directory: bool = False) -> None:
    """Give a private temporary (mkstemp 0600, mkdtemp 0700) the mode of a normally created
    file or folder (0666 / 0777 less the umask) before it is renamed into place. A folder's
    files and subfolders get it too (some libraries write their files 0600, e.g. safetensors);
    a file with an execute bit keeps it."""
    mask = _umask()
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, (0o777 if directory else 0o666) & ~mask)
    if not directory:
        return
    for folder, dirs, files in os.walk(path):
        for d in dirs:
            with contextlib.suppress(FileNotFoundError):
                os.chmod(os.path.join(folder, d), 0o777 & ~mask)
        for f in files:
            full = os.path.join(folder, f)
            with contextlib.suppress(FileNotFoundError):
                st = os.lstat(full)
                if not os.path.islink(full):
                    os.chmod(full, (0o777 if st.st_mode & 0o111 else 0o666) & ~mask)


def is_checked(path: str | Path) -> bool:
    """Whether ``path`` is an array or table written with a checksum sidecar."""
    return Path(path).suffix in CHECKED_SUFFIXES


def sidecar(path: str | Path) -> Path:
    """The checksum sidecar of ``path`` (``<name>.sum`` beside it)."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)


def file_checksum(path: str | Path) -> tuple[int, str]:
    """(size in bytes, SHA-256 hex digest) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _sidecar_text(size: int, digest: str) -> str:
    return f"size={size} sha256={digest}\n"


def _parse_sidecar(text: str) -> tuple[int, str] | None:
    m = re.fullmatch(r"size=(\d+) sha256=([0-9a-f]{64})\n?", text)
    return (int(m.group(1)), m.group(2)) if m else None


def rebuild_hint(path: str | Path) -> str:
    """The command that rebuilds a damaged output: ``make repair`` with the config of the run
    that holds the results folder's lock (or of the last run), else a generic one."""
    from speechneurons.runlock import last_run

    run = last_run(path)
    if run:
        cfg = " ".join(run.get("configfiles") or ["config.yaml"])
        cfg = f'"{cfg}"' if " " in cfg else cfg
        where = f"cd {run['cwd']} && " if run.get("cwd") else ""
        return f"rebuild it with: {where}make repair CONFIG={cfg}"
    return f"rebuild it with: make repair CONFIG=<your config> (or snakemake --forcerun {path} ...)"


def verify(path: str | Path) -> bool:
    """Check ``path`` against its sidecar; raise :class:`DamagedFileError` on a mismatch.
    Returns False when there is no sidecar (nothing to check), True when it matches."""
    path = Path(path)
    car = sidecar(path)
    try:
        text = car.read_text(encoding="ascii")
    except (FileNotFoundError, NotADirectoryError):
        return False
    except (OSError, UnicodeDecodeError) as err:
        raise DamagedFileError(path, f"its checksum sidecar {car} cannot be read ({err})", rebuild_hint(path)) from err
    expected = _parse_sidecar(text)
    if expected is None:
        raise DamagedFileError(path, f"its checksum sidecar {car} is damaged", rebuild_hint(path))
    try:
        size = path.stat().st_size
    except FileNotFoundError as err:
        raise DamagedFileError(path, "is missing (its checksum sidecar is there)", rebuild_hint(path)) from err
    if size != expected[0]:
        raise DamagedFileError(
            path, f"is damaged: {size} bytes where it was written with {expected[0]} (truncated?)", rebuild_hint(path)
        )
    if file_checksum(path)[1] != expected[1]:
        raise DamagedFileError(
            path, "is damaged: its checksum differs from the one written with it", rebuild_hint(path)
        )
    return True


def write_sidecar(path: str | Path, of: str | Path | None = None) -> None:
    """Write the sidecar of ``path`` (checksum of the file ``of``, by default ``path`` itself)."""
    size, digest = file_checksum(of if of is not None else path)
    with atomic_path(sidecar(path), checked=False) as tmp:
        tmp.write_text(_sidecar_text(size, digest), encoding="ascii")


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str | None = None, checked: bool | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    The temporary file keeps the target's suffix (or ``suffix``) so that libraries which
    infer the format from the extension still work. On error the temporary is removed; what an
    interrupted earlier write of ``path`` left is removed first. The file gets the umask's mode.
    Arrays and tables (``checked``, by default by the suffix, see :data:`CHECKED_SUFFIXES`) get
    their checksum sidecar written with them.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    checked = is_checked(path) if checked is None else checked
    suffix = path.suffix if suffix is None else suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        _public(tmp_path)
        if checked:
            write_sidecar(path, of=tmp_path)
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Like :func:`atomic_path` for a directory: build it under a temporary name, then rename."""
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(path)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        _public(tmp, directory=True)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def remove_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove what an interrupted :func:`atomic_path` / :func:`atomic_dir` left beside ``path``
    (hidden ``.<name>.<random>.tmp<suffix>`` files or folders: a killed process never reaches its
    clean-up). :func:`atomic_path` and :func:`atomic_dir` call it before writing ``path`` again
    (one job owns each output). Returns the removed paths."""
    import shutil

    path = Path(path)
    removed = []
    if not path.parent.is_dir():
        return removed
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"):
        if stale.is_dir() and not stale.is_symlink():
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        removed.append(stale)
    return removed


def load_array(path: str | Path, mmap_mode: str | None = None):
    """``np.load`` of a ``.npy`` after checking it against its sidecar (see module doc); an
    unreadable file stops with a :class:`DamagedFileError` naming it and the rebuild command."""
    import numpy as np

    verify(path)
    try:
        return np.load(path, mmap_mode=mmap_mode, allow_pickle=False)
    except (OSError, ValueError, EOFError) as err:
        raise DamagedFileError(path, f"cannot be read as a .npy array ({err})", rebuild_hint(path)) from err


class NpyRows:
    """The rows of a ``.npy`` array (C order, e.g. [frames, neurons]), read from the file a contiguous block at a time.

    ``rows[lo:hi]`` reads rows lo..hi-1 (an ndarray of that block only); ``shape``, ``dtype``,
    ``ndim`` and ``len()`` as for the array. Nothing is memory-mapped: the pages a memory map
    touches stay in the process's resident set (RSS) until the map goes, so a pass over a
    memory-mapped layer ends with the whole file counted in the job's RSS; a read keeps only the
    block. Anything but a slice of rows (with optional column indices after it) is refused, and
    so is ``np.asarray(rows)``: a whole-layer copy must be asked for with ``rows[:]``.
    """

    def __init__(self, path: str | Path) -> None:
        import numpy as np

        self.path = Path(path)
        with open(self.path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            read_header = (
                np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            )
            shape, fortran, dtype = read_header(fh)
            self.offset = fh.tell()
        if fortran or not shape or dtype.hasobject:
            raise ValueError(f"{self.path} is not a C-ordered numeric array with rows (shape {shape})")
        self.shape, self.dtype, self.ndim = tuple(shape), dtype, len(shape)

    def __len__(self) -> int:
        return self.shape[0]

    def __array__(self, *args, **kwargs):
        raise TypeError(f"{self.path} is read in row blocks (rows[lo:hi]); rows[:] reads it whole")

    def __getitem__(self, key):
        import numpy as np

        rest = ()
        if isinstance(key, tuple):
            key, rest = key[0], key[1:]
        if not isinstance(key, slice) or key.step not in (None, 1):
            raise TypeError(f"{self.path} is read in contiguous row blocks (rows[lo:hi]), not with {key!r}")
        lo, hi, _ = key.indices(self.shape[0])
        hi = max(lo, hi)
        width = int(np.prod(self.shape[1:], dtype=np.int64))
        block = np.fromfile(
            self.path, dtype=self.dtype, count=(hi - lo) * width, offset=self.offset + lo * width * self.dtype.itemsize
        ).reshape(hi - lo, *self.shape[1:])
        return block[(slice(None), *rest)] if rest else block


def load_rows(path: str | Path) -> NpyRows:
    """A ``.npy`` to be read in row blocks (:class:`NpyRows`), after checking its sidecar."""
    verify(path)
    try:
        return NpyRows(path)
    except (OSError, ValueError, EOFError) as err:
        raise DamagedFileError(path, f"cannot be read as a .npy array ({err})", rebuild_hint(path)) from err


def load_npz(path: str | Path):
    """``np.load`` of a ``.npz`` (use it as a context manager) after checking its sidecar."""
    import numpy as np

    verify(path)
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DamagedFileError(path, f"cannot be read as a .npz archive ({err})", rebuild_hint(path)) from err


#: Modification time stored for every member of a .npz (zip): a fixed one, so that the same
#: arrays give the same bytes (np.savez stamps the time of writing).
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def write_npz_to(fh, arrays: Mapping[str, Any], compressed: bool = True) -> None:
    """Write ``arrays`` as a ``.npz`` (what ``np.savez``/``np.savez_compressed`` write) to an open
    binary file, with fixed member times so that equal arrays give equal bytes."""
    import numpy as np

    compression = zipfile.ZIP_DEFLATED if compressed else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, mode="w", compression=compression, allowZip64=True) as zf:
        for key, value in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=_ZIP_TIME)
            info.compress_type = compression
            info.external_attr = 0o644 << 16
            with zf.open(info, "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)


def write_npz(path: str | Path, arrays: Mapping[str, Any], compressed: bool = True) -> None:
    """Write ``arrays`` to ``path`` atomically as a reproducible ``.npz`` (with its sidecar)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        write_npz_to(fh, arrays, compressed)


def relative_to(path: str | Path, root: str | Path) -> str:
    """``path`` relative to ``root`` when it lies under it (a file of the results folder written
    into results: the same bytes whatever the folder is called), else unchanged."""
    a, r = os.path.abspath(path), os.path.abspath(root)
    return os.path.relpath(a, r) if a == r or a.startswith(r + os.sep) else str(path)


def write_text(path: str | Path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_text_if_changed(path: str | Path, text: str) -> bool:
    """Write ``text`` to ``path`` unless the file already holds exactly it (its modification
    time then stays, so Snakemake reruns nothing that depends on it). Returns whether it wrote."""
    path = Path(path)
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    write_text(path, text)
    return True


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def read_json(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write a table atomically; the format follows the suffix (.tsv, .csv or .parquet)."""
    path = Path(path)
    with atomic_path(path) as tmp:
        if path.suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif path.suffix == ".tsv":
            df.to_csv(tmp, sep="\t", index=False)
        elif path.suffix == ".csv":
            df.to_csv(tmp, index=False)
        else:
            raise ValueError(f"unknown table format for {path}")


#: Wall-clock columns: they differ every run, so they go to the job's log (and Snakemake's
#: benchmarks/), never into results (which hold the same bytes every run).
TIMING_COLUMNS = ("seconds", "elapsed_s", "wall_seconds")


def drop_timings(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` without its wall-clock columns (:data:`TIMING_COLUMNS`), for writing to results."""
    return df.drop(columns=[c for c in TIMING_COLUMNS if c in df.columns])


def read_table(path: str | Path, **kwargs: Any) -> pd.DataFrame:
    """Read a table written by :func:`write_table` (checked against its sidecar first)."""
    path = Path(path)
    verify(path)
    if path.suffix == ".parquet":
        return pd.read_parquet(path, **kwargs)
    if path.suffix == ".tsv":
        return pd.read_csv(path, sep="\t", keep_default_na=False, na_values=[""], **kwargs)
    if path.suffix == ".csv":
        return pd.read_csv(path, **kwargs)
    raise ValueError(f"unknown table format for {path}")


def paths(named) -> list[str]:
    """A named input or output of a job as a list of paths: Snakemake gives one path as a
    string and several as a list; nothing ([], None or '') is []."""
    if not named:
        return []
    return [str(named)] if isinstance(named, (str, Path)) else [str(x) for x in named]
