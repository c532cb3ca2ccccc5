"""Sparse autoencoders on layer activations: TopK, mutual choice and feature choice.

One module per selection rule (``topk``, ``mutual_choice``, ``feature_choice``), each with its
settings dataclass; :data:`SAE_ARCHITECTURES` maps the config's names to them. The SAE itself
(:class:`SparseAutoencoder`), its training (:func:`train_sae`), evaluation
(:func:`evaluate_sae`) and figures (:mod:`.plots`) are shared by all rules. Definitions:
``docs/saes.md``.
"""

import importlib

# The names below load their module (and torch) when first used: the workflow's rules import
# speechneurons.saes.settings while the DAG is built, which must stay light.
_HOMES = {
    "SAE_ARCHITECTURES": "registry",
    "Codes": "sae",
    "FeatureChoiceSettings": "settings",
    "MutualChoiceSettings": "settings",
    "SaeEvaluation": "evaluation",
    "SaeSettings": "settings",
    "SparseAutoencoder": "sae",
    "TopKSettings": "settings",
    "ZipfFit": "evaluation",
    "evaluate_sae": "evaluation",
    "train_sae": "training",
    "zipf_fit": "evaluation",
}


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f".{_HOMES[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "SAE_ARCHITECTURES",
    "Codes",
    "FeatureChoiceSettings",
    "MutualChoiceSettings",
    "SaeEvaluation",
    "SaeSettings",
    "SparseAutoencoder",
    "TopKSettings",
    "ZipfFit",
    "evaluate_sae",
    "train_sae",
    "zipf_fit",
]
