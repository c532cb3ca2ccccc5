"""Logging for workflow scripts: everything a job prints goes to its ``log:`` file, and its
warnings (a study that cannot be computed on the data, a probe that was skipped, skipped
utterances, Python warnings) are also shown on the console, where a user sees them.

Bad input (:class:`speechneurons.errors.BadInputError`) reaches the console as its message
alone (file, problem, what to do); its traceback is kept in the log file and the job exits
with status 1. Any other exception is logged and propagates with its traceback."""

from __future__ import annotations

import contextlib
import logging
import re
import resource
import sys
from collections.abc import Iterator
from pathlib import Path

from speechneurons.errors import BadInputError, BadInputErrors

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
#: the last line of a job's log: its exact CPU time (:func:`job_cpu_line`, read by :func:`logged_cpu_seconds`)
CPU_LINE = re.compile(r"job CPU: ([0-9.]+) s \(user ([0-9.]+), system ([0-9.]+), child processes ([0-9.]+)\)")
# Warnings of one job echoed to the console; the rest are counted (all are in the log file).
CONSOLE_WARNINGS = 10


class ConsoleWarnings(logging.Handler):
    """Echo WARNING and above to the console (the real stderr, which the job's redirection to its
    log file does not reach), at most ``limit`` of them, each tagged with the job's log file."""

    def __init__(self, log_path: str | Path, stream=None, limit: int = CONSOLE_WARNINGS):
        super().__init__(logging.WARNING)
        self.log_path, self.stream, self.limit, self.count = str(log_path), stream, limit, 0

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "console", True) is False:  # shown on the console another way
            return
        self.count += 1
        if self.count > self.limit:
            return
        stream = self.stream or sys.__stderr__
        try:
            message = record.getMessage().splitlines()[0] if record.getMessage() else ""
            stream.write(f"{record.levelname} ({self.log_path}): {message}\n")
            stream.flush()
        except Exception:  # the console is a courtesy: never fail a job for it
            pass

    def close(self) -> None:
        if self.count > self.limit:
            with contextlib.suppress(Exception):
                stream = self.stream or sys.__stderr__
                stream.write(f"WARNING ({self.log_path}): {self.count - self.limit} more warning(s) in the log\n")
        super().close()


def console_message(exc: BadInputError, log_path: str | Path) -> str:
    """What the console shows of a bad-input error: each problem's file, problem and fix."""
    errors = exc.errors if isinstance(exc, BadInputErrors) else [exc]
    head = "ERROR: bad input" if len(errors) == 1 else f"ERROR: {len(errors)} bad inputs"
    lines = [f"{head} (the traceback is in {log_path})"]
    for err in errors:
        utt = f" (utterance {err.utt_id})" if err.utt_id and f"utterance {err.utt_id}" not in err.problem else ""
        lines += [f"  file:    {err.path}{utt}", f"  problem: {err.problem}", f"  to do:   {err.fix}"]
    return "\n".join(lines) + "\n"


def job_cpu_line() -> str:
    """This process's CPU time so far, its child processes' included (the aligner, the synthesizer).

    Snakemake's benchmark files sample a job's CPU time 31 times at 0.5 s, then every 30 s, and
    keep the last sample, so a job that runs for 44 s is credited with its first 15.5 s; the log's
    line is the kernel's count at the job's end (getrusage), imports and start-up included."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    user, system, children = own.ru_utime, own.ru_stime, kids.ru_utime + kids.ru_stime
    total = user + system + children
    return f"job CPU: {total:.2f} s (user {user:.2f}, system {system:.2f}, child processes {children:.2f})"


def logged_cpu_seconds(log_path: str | Path) -> float | None:
    """The CPU seconds a job's log reports (:func:`job_cpu_line`); None for a log without the line
    (a job that failed, a shell rule, a log written before the line existed)."""
    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = CPU_LINE.findall(text)
    return float(found[-1][0]) if found else None


@contextlib.contextmanager
def script_logging(log_path: str | Path | None) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr (progress bars included) to ``log_path``.

    Exceptions are logged with their traceback before they propagate, so the job's log
    says why it failed. Bad input is shown on the console as its message alone
    (:func:`console_message`) and ends the job with status 1 (SystemExit). A job that ends
    without an error logs its CPU time last (:func:`job_cpu_line`).
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
        console = ConsoleWarnings(log_path)
        root = logging.getLogger()
        root.addHandler(handler)
        root.addHandler(console)
        root.setLevel(logging.INFO)
        logging.captureWarnings(True)  # warnings.warn (e.g. scikit-learn's) reach both handlers
        bad_input = None
        try:
            with contextlib.redirect_stdout(fh), contextlib.redirect_stderr(fh):
                try:
                    yield logger
                    logger.info(job_cpu_line())
                except BadInputError as exc:
                    logger.exception("job failed: bad input", extra={"console": False})
                    bad_input = exc
                except Exception:
                    logger.exception("job failed")
                    raise
        finally:
            root.removeHandler(handler)
            root.removeHandler(console)
            console.close()
            logging.captureWarnings(False)
            print(f"log: {log_path}", file=sys.stderr)
    if bad_input is not None:
        sys.stderr.write(console_message(bad_input, log_path))
        sys.stderr.flush()
        raise SystemExit(1)
