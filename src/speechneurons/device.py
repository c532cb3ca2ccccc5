"""Choosing the torch device: ``auto`` takes a GPU when one is present."""

from __future__ import annotations


def resolve_device(name: str = "auto"):
    """'auto' -> cuda when available, else cpu; any other name is passed to torch.device."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)
