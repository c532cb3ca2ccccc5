"""Logging for workflow scripts: everything a job prints goes to its ``log:`` file."""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


@contextlib.contextmanager
def script_logging(log_path: str | Path | None) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr (progress bars included) to ``log_path``.

    Exceptions are logged with their traceback before they propagate, so the job's log
    says why it failed.
    """
    logger = logging.getLogger("speechneurons")
    if log_path is None:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
        yield logger
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", encoding="utf-8") as fh:
        handler = logging.StreamHandler(fh)
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                try:
                    yield logger
                except Exception:
                    logger.exception("job failed")
                    raise
        finally:
            root.removeHandler(handler)
            print(f"log: {log_path}", file=sys.stderr)
