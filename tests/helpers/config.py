"""Settings objects for tests, built from the schema defaults (the one place defaults live)."""

from __future__ import annotations

import functools
from typing import Any

from speechneurons.config import defaults, settings_from


@functools.cache
def _defaults() -> dict:
    return defaults()


def default_section(section: str, **overrides: Any) -> dict:
    """The schema defaults of a config section, with ``overrides``."""
    return {**_defaults()[section], **overrides}


def default_settings(cls, section: str, **overrides: Any):
    """``cls`` built from the schema defaults of ``section``, with ``overrides``."""
    return settings_from(cls, default_section(section, **overrides))
