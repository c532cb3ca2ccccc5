"""Sparse autoencoders on layer activations: TopK, mutual choice and feature choice.

One module per selection rule (``topk``, ``mutual_choice``, ``feature_choice``), each with its
settings dataclass; :data:`SAE_ARCHITECTURES` maps the config's names to them. The SAE itself
(:class:`SparseAutoencoder`), its training (:func:`train_sae`), evaluation
(:func:`evaluate_sae`) and figures (:mod:`.plots`) are shared by all rules. Definitions:
``docs/saes.md``.
"""

from .evaluation import SaeEvaluation, ZipfFit, evaluate_sae, zipf_fit
from .registry import SAE_ARCHITECTURES
from .sae import Codes, SparseAutoencoder
from .settings import FeatureChoiceSettings, MutualChoiceSettings, SaeSettings, TopKSettings
from .training import train_sae

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
