"""The one place where this stage imports modules that move in the package reshaping.

``speechneurons.models`` becomes ``speechneurons.model.registry`` and
``speechneurons.probes`` moves into ``speechneurons.experiments``; only these lines change
when they do.
"""

from __future__ import annotations

from speechneurons.models import LoadedModel, load_model, tiny_config  # noqa: F401
from speechneurons.probes import bootstrap_delta, bootstrap_ratio  # noqa: F401
