"""Run all benchmarks (``python -m bench``) or the named ones (``python -m bench activations``)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    names = sorted(p.stem[len("bench_") :] for p in Path(__file__).parent.glob("bench_*.py"))
    wanted = [a for a in argv if not a.startswith("-")] or names
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {names}", file=sys.stderr)
        return 2
    flags = [a for a in argv if a.startswith("-")]
    for name in wanted:
        print(f"== bench {name}", flush=True)
        importlib.import_module(f"bench.bench_{name}").main(flags)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
