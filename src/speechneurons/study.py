"""What one config asks for: its corpora and its models, each with the settings that differ.

The primary corpus and model are the ``corpus`` and ``model`` sections; ``compare.corpora`` and
``compare.models`` add more. A pretrained model's settings are the ``pretrain`` section with
the model's own ``pretrain`` overrides on top (validated like the section itself). Every stage
runs for every (corpus, model) pair.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any


def corpora(config: Mapping) -> dict[str, dict]:
    """Corpus name -> its corpus section (the primary corpus first)."""
    entries = [config["corpus"], *config.get("compare", {}).get("corpora", [])]
    return {entry["name"]: entry for entry in entries}


def models(config: Mapping) -> dict[str, dict]:
    """Model name -> ``{name, source, path, pretrain}`` where ``pretrain`` is the full pretrain
    section of a pretrained model (the section with the model's overrides), ``{}`` otherwise."""
    out = {}
    for entry in [config["model"], *config.get("compare", {}).get("models", [])]:
        pretrain = merged(config["pretrain"], entry.get("pretrain", {})) if entry["source"] == "pretrain" else {}
        out[entry["name"]] = {"name": entry["name"], "source": entry["source"], "path": entry["path"],
                              "pretrain": pretrain}  # fmt: skip
    return out


def merged(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict:
    """``base`` with ``overrides`` on top, nested dicts merged key by key (lists replaced)."""
    out = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def duplicate_names(config: Mapping) -> list[str]:
    """Names given to more than one corpus, or to more than one model."""
    names = []
    for kind, entries in (
        ("corpus", [config["corpus"], *config.get("compare", {}).get("corpora", [])]),
        ("model", [config["model"], *config.get("compare", {}).get("models", [])]),
    ):
        seen = [e["name"] for e in entries]
        names += [f"{kind} {n!r}" for n in sorted({n for n in seen if seen.count(n) > 1})]
    return names
