"""Synthetic activations made from a known sparse dictionary (SAE tests and benchmarks)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


class SparseData(NamedTuple):
    x: np.ndarray
    """Rows [n, D] = sum of `active` atoms with positive coefficients, plus an offset and noise."""
    atoms: np.ndarray
    """The dictionary [n_atoms, D], unit-norm rows."""
    support: np.ndarray
    """Indices of the active atoms of each row [n, active]."""


def sparse_dictionary_data(
    n: int = 20000,
    d: int = 32,
    n_atoms: int = 64,
    active: int = 3,
    noise: float = 0.01,
    offset: float = 1.0,
    seed: int = 0,
    zipf: float = 0.0,
) -> SparseData:
    """x_n = offset * c + sum_{a in S_n} u_{n,a} atom_a + noise, S_n of size ``active`` drawn
    without replacement, uniformly or (``zipf`` > 0) with atom a's weight proportional to
    (a + 1) ** -zipf (a Gumbel top-k draw); u uniform in [0.5, 1.5], c a fixed random unit
    vector (so that b_pre has something to learn)."""
    rng = np.random.default_rng(seed)
    atoms = rng.normal(size=(n_atoms, d))
    atoms /= np.linalg.norm(atoms, axis=1, keepdims=True)
    if zipf > 0:
        log_w = -zipf * np.log(np.arange(1, n_atoms + 1))
        support = np.argsort(-(log_w + rng.gumbel(size=(n, n_atoms))), axis=1)[:, :active]
    else:
        support = np.argsort(rng.random((n, n_atoms)), axis=1)[:, :active]
    coef = rng.uniform(0.5, 1.5, size=(n, active))
    x = np.einsum("na,nad->nd", coef, atoms[support])
    c = rng.normal(size=d)
    x += offset * c / np.linalg.norm(c) + noise * rng.normal(size=(n, d))
    return SparseData(x.astype(np.float32), atoms.astype(np.float32), support)


def max_cosines(atoms: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """For each true atom, the largest cosine similarity with any learned direction."""
    a = atoms / np.linalg.norm(atoms, axis=1, keepdims=True)
    b = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    return (a @ b.T).max(axis=1)


def sae_settings(architecture: str = "topk", **overrides):
    """SaeSettings from the schema defaults, with small-problem training values and overrides
    (nested subsections as dicts). Use ``feature_choice`` (uniform capacities) on
    :func:`sparse_dictionary_data`: every planted atom is equally frequent."""
    from speechneurons.config import settings_from
    from speechneurons.saes import SaeSettings
    from tests.helpers.config import default_section

    section = default_section(
        "saes",
        expansion_factor=2.0,
        k=3,
        lr=1e-2,
        lr_warmup_steps=20,
        lr_decay_share=0.2,
        steps=800,
        batch_size=256,
        dead_tokens=2000,
        ema_decay=0.99,
        k_aux=0,
        encoder_init_scale=1.0,
        feature_choice=dict(inference="threshold"),
    )
    section.update(overrides)
    return settings_from(SaeSettings, section, architecture=architecture)
