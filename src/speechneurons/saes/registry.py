"""The selection rules by name: the ``architectures`` of the ``saes`` config section and the
values of the ``{arch}`` wildcard. Each rule's class carries its own ``name``; the registry is
built from those, so no name is written twice (and the settings never import this module)."""

from __future__ import annotations

from .feature_choice import FeatureChoice, FeatureChoiceZipf
from .mutual_choice import MutualChoice
from .selector import Selector
from .topk import TopK

#: name -> selection-rule class (its ``settings_key`` names its config subsection).
SAE_ARCHITECTURES: dict[str, type[Selector]] = {
    cls.name: cls for cls in (TopK, MutualChoice, FeatureChoice, FeatureChoiceZipf)
}


def selector_class(architecture: str) -> type[Selector]:
    """The selection-rule class of an architecture name; ValueError naming the known ones."""
    if architecture not in SAE_ARCHITECTURES:
        raise ValueError(f"unknown SAE architecture {architecture!r}; known: {sorted(SAE_ARCHITECTURES)}")
    return SAE_ARCHITECTURES[architecture]
