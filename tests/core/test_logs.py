"""Job logging: everything in the job's log file, warnings also on the console."""

import io
import logging
import warnings

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
