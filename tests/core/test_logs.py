"""Job logging: everything in the job's log file, warnings also on the console."""

import io
import logging
import warnings

import pytest

from speechneurons.logs import ConsoleWarnings, script_logging


def test_warnings_reach_the_console_as_well_as_the_log(tmp_path, monkeypatch):
    """Probe warnings ('needs two classes') and 'not computable' went to log files only."""
    console = io.StringIO()
    monkeypatch.setattr("sys.__stderr__", console)
    log_path = tmp_path / "job.log"
    with script_logging(log_path) as log:
        log.info("an ordinary line")
        log.warning("gender probe, layer 1: needs both genders; skipped")
        warnings.warn("a library warning", UserWarning, stacklevel=1)
        print("printed")
    text = log_path.read_text()
    assert "an ordinary line" in text and "needs both genders" in text and "printed" in text
    shown = console.getvalue()
    assert f"WARNING ({log_path}): gender probe, layer 1: needs both genders; skipped" in shown
    assert "a library warning" in shown and "an ordinary line" not in shown


def test_console_warnings_are_limited():
    stream = io.StringIO()
    handler = ConsoleWarnings("x.log", stream, limit=2)
    logger = logging.getLogger("speechneurons.test_console_limit")
    logger.addHandler(handler)
    try:
        for i in range(5):
            logger.warning("skipping utterance %d", i)
    finally:
        logger.removeHandler(handler)
        handler.close()
    lines = stream.getvalue().splitlines()
    assert lines == [
        "WARNING (x.log): skipping utterance 0",
        "WARNING (x.log): skipping utterance 1",
        "WARNING (x.log): 3 more warning(s) in the log",
    ]


def test_bad_input_reaches_the_console_as_its_message_alone(tmp_path, capsys):
    """A corrupt FLAC showed its message inside a 20-40 line traceback on the console."""
    from speechneurons.errors import BadInputError, BadInputErrors

    log_path = tmp_path / "job.log"
    with pytest.raises(SystemExit) as exit_, script_logging(log_path):
        raise BadInputError("a/b.flac", "audio file is unreadable or corrupt", "Re-create it", "b")
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert f"ERROR: bad input (the traceback is in {log_path})" in err
    assert "  file:    a/b.flac (utterance b)\n  problem: audio file is unreadable or corrupt\n" in err
    assert "  to do:   Re-create it" in err
    text = log_path.read_text()
    assert "Traceback" in text and "audio file is unreadable or corrupt" in text

    with pytest.raises(SystemExit), script_logging(log_path):
        raise BadInputErrors([BadInputError("x", "p1", "f1"), BadInputError("y", "p2", "f2")])
    err = capsys.readouterr().err
    assert "ERROR: 2 bad inputs" in err and "file:    y" in err and "Traceback" not in err


def test_other_errors_keep_their_traceback(tmp_path):
    with pytest.raises(RuntimeError, match="a bug"), script_logging(tmp_path / "job.log"):
        raise RuntimeError("a bug")
    assert "Traceback" in (tmp_path / "job.log").read_text()


JOB = """
import resource, subprocess, sys, time
from speechneurons.logs import script_logging

def burn(seconds):
    start = time.process_time()
    while time.process_time() - start < seconds:
        pass

with script_logging(sys.argv[1]):
    burn(0.3)
    # a child process (as the aligner and the synthesizer are) that burns 0.2 s of its own
    child = "import time\\ns = time.process_time()\\nwhile time.process_time() - s < 0.2: pass"
    subprocess.run([sys.executable, "-c", child], check=True)
own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
print(own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime)
"""


def test_a_job_logs_its_exact_cpu_time_children_included(tmp_path):
    """Snakemake's benchmark files sample a job's CPU every 30 s after its first 15.5 s, so a job
    of 16-45 s was credited with its first 15.5 s; the log's last line is the kernel's count."""
    import subprocess
    import sys

    from speechneurons.logs import CPU_LINE, logged_cpu_seconds

    log_path = tmp_path / "job.log"
    proc = subprocess.run([sys.executable, "-c", JOB, str(log_path)], capture_output=True, text=True, check=True)
    at_exit = float(proc.stdout.strip())
    logged = logged_cpu_seconds(log_path)
    assert 0.5 <= logged <= at_exit + 0.01  # the parent's 0.3 s and the child's 0.2 s, start-up included
    total, user, system, children = (float(x) for x in CPU_LINE.findall(log_path.read_text())[-1])
    assert children >= 0.2 and abs(user + system + children - total) < 0.02


def test_a_failed_job_logs_no_cpu_time(tmp_path):
    from speechneurons.logs import logged_cpu_seconds

    log_path = tmp_path / "job.log"
    with pytest.raises(ValueError), script_logging(log_path):
        raise ValueError("boom")
    assert logged_cpu_seconds(log_path) is None
    assert logged_cpu_seconds(tmp_path / "missing.log") is None
