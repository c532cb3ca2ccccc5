"""``make repair``: find the damaged outputs of a results folder and have Snakemake rebuild them.

Every array and table is written with a checksum sidecar (:mod:`speechneurons.io`). A file
that no longer matches it (truncated, overwritten, bit rot) is damaged; a plain rerun does not
rebuild it (its modification time still says up to date), and a damaged file whose mtime was
kept is not even noticed by a dry run. :func:`find_damaged` checks every sidecar of the folder;
:func:`repair` removes each damaged file, or the output folder it belongs to (found in
Snakemake's metadata of the working directory), so that the next Snakemake run rebuilds it and,
the rebuilt file being newer, everything that depends on it.

Usage (what ``make repair CONFIG=...`` runs)::

    python -m speechneurons.repair [--dry-run] config.yaml [configs/overlay.yaml ...]

then ``snakemake`` with the same config files (the Makefile runs it).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from base64 import urlsafe_b64encode
from pathlib import Path

from speechneurons.io import SIDECAR_SUFFIX, DamagedFileError, sidecar, verify


def results_dir_of(configfiles) -> str:
    """The ``results_dir`` the config files give (the last one that sets it; default 'results')."""
    from speechneurons.config import read_config_file

    found = "results"
    for path in configfiles:
        cfg = read_config_file(path) or {}
        if "results_dir" in cfg:
            found = str(cfg["results_dir"])
    return found


def find_damaged(results_dir: str | Path) -> list[tuple[Path, str]]:
    """(file, problem) of every checked file under ``results_dir`` that does not match its
    sidecar. A sidecar without its file (an output Snakemake removed) is not damage."""
    damaged = []
    for folder, dirs, files in os.walk(results_dir):
        dirs[:] = sorted(d for d in dirs if not (d.startswith(".") and ".tmp" in d))
        for name in sorted(files):
            if not name.endswith(SIDECAR_SUFFIX):
                continue
            target = Path(folder) / name[: -len(SIDECAR_SUFFIX)]
            if not target.exists():
                continue
            try:
                verify(target)
            except DamagedFileError as err:
                damaged.append((target, err.problem))
    return damaged


def _has_metadata(path: Path, workdir: Path) -> bool:
    meta = workdir / ".snakemake" / "metadata"
    spellings = {str(path)}
    with_rel = os.path.relpath(path, workdir)
    if not with_rel.startswith(".."):
        spellings.add(with_rel)
    for s in spellings:
        b64 = urlsafe_b64encode(s.encode()).decode()
        if len(b64) < 255 and (meta / b64).exists():
            return True
    return False


def owning_output(path: Path, results_dir: str | Path, workdir: str | Path = ".") -> Path:
    """The output of a Snakemake job that holds ``path``: the file itself, or the folder
    (``directory()`` output) above it that Snakemake has a record of; the file when none."""
    root = Path(os.path.abspath(results_dir))
    workdir = Path(os.path.abspath(workdir))
    path = Path(os.path.abspath(path))
    for candidate in [path, *path.parents]:
        if candidate == root or root not in candidate.parents:
            break
        if _has_metadata(candidate, workdir):
            return candidate
    return path


def _remove(output: Path) -> None:
    if output.is_dir() and not output.is_symlink():
        shutil.rmtree(output)
    else:
        output.unlink(missing_ok=True)
        sidecar(output).unlink(missing_ok=True)


def repair(results_dir: str | Path, workdir: str | Path = ".", dry_run: bool = False) -> list[Path]:
    """Remove every damaged output (see module doc); return the removed outputs."""
    removed = []
    for path, problem in find_damaged(results_dir):
        output = owning_output(path, results_dir, workdir)
        print(f"damaged: {path}: {problem}" + (f" (output {output})" if output != path else ""), file=sys.stderr)
        if output not in removed:
            removed.append(output)
            if not dry_run:
                _remove(output)
    return removed


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m speechneurons.repair", description=__doc__.split("\n\n")[0])
    ap.add_argument("configfiles", nargs="+", help="the run's config files (config.yaml, then the overlays)")
    ap.add_argument("--dry-run", action="store_true", help="list the damaged outputs, remove nothing")
    args = ap.parse_args(argv)
    results = results_dir_of(args.configfiles)
    if not Path(results).is_dir():
        print(f"no results folder {results}: nothing to repair", file=sys.stderr)
        return 0
    removed = repair(results, dry_run=args.dry_run)
    if args.dry_run:
        print(f"{len(removed)} damaged output(s) in {results} (--dry-run: nothing removed)")
    else:
        then = "; Snakemake rebuilds them" if removed else ""
        print(f"{len(removed)} damaged output(s) removed in {results}{then}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
