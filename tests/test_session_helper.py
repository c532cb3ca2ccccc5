"""tests/helpers/session.py: a folder built once per session, and a failed build not retried."""

from __future__ import annotations

import pytest

from tests.helpers.session import built_once, shared_root


def test_built_once_builds_once_and_remembers_a_failure(tmp_path_factory):
    calls = []

    def build(folder):
        calls.append(folder)
        folder.mkdir()
        (folder / "made").write_text("yes")

    one = built_once(tmp_path_factory, "once-helper", build)
    two = built_once(tmp_path_factory, "once-helper", build)
    assert one == two == shared_root(tmp_path_factory) / "once-helper"
    assert len(calls) == 1 and (one / "made").read_text() == "yes"

    def broken(folder):
        calls.append(folder)
        raise RuntimeError("the build broke")

    with pytest.raises(RuntimeError, match="the build broke"):
        built_once(tmp_path_factory, "broken-helper", broken)
    with pytest.raises(AssertionError, match="failed earlier in this session") as info:
        built_once(tmp_path_factory, "broken-helper", broken)
    assert "the build broke" in str(info.value)
    assert len(calls) == 2  # the second ask did not build again
