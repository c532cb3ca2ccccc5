"""The selection rules by name (the ``architectures`` of the ``saes`` config section)."""

from __future__ import annotations

from .feature_choice import FeatureChoice
from .mutual_choice import MutualChoice
from .topk import TopK

#: name -> selection-rule class (each has ``Settings``, its config subsection's dataclass).
ARCHITECTURES = {"topk": TopK, "mutual_choice": MutualChoice, "feature_choice": FeatureChoice}
