"""The selection rules by name: the ``architectures`` of the ``saes`` config section and the
values of the ``{arch}`` wildcard."""

from __future__ import annotations

from .feature_choice import FeatureChoice, FeatureChoiceZipf
from .mutual_choice import MutualChoice
from .topk import TopK

#: name -> selection-rule class (its ``settings_key`` names its config subsection).
ARCHITECTURES = {
    "topk": TopK,
    "mutual_choice": MutualChoice,
    "feature_choice": FeatureChoice,
    "feature_choice_zipf": FeatureChoiceZipf,
}
