"""Random controls for erasing SAE latents: as many latents as the erased set, matched in density.

Erasing a latent removes its decoder contribution wherever it fires, so the effect grows with
how often it fires; a uniform random set of latents (mostly rare or dead ones in a short run)
would be a weak control. The control of a set E draws, for each latent of E in a seeded random
order, one latent uniformly among the ``neighbours`` latents outside E (and not drawn yet)
whose training density is nearest to its own on a log scale (densities floored at 1e-6, so dead
latents match dead latents).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DENSITY_FLOOR = 1e-6


def density_matched(erased: Sequence[int], density: np.ndarray, neighbours: int, seed: int = 0,
                    stream: int = 0) -> np.ndarray:
    """Sorted latent indices: one density-matched partner outside ``erased`` per erased latent
    (fewer when there are not enough other latents). Seeded by (seed, stream)."""
    density = np.asarray(density, dtype=np.float64)
    erased = np.unique(np.asarray(erased, dtype=np.int64))
    if neighbours < 1:
        raise ValueError("neighbours must be >= 1")
    if erased.size and (erased.min() < 0 or erased.max() >= density.size):
        raise ValueError(f"erased latents must lie in 0..{density.size - 1}")
    logd = np.log10(np.maximum(density, DENSITY_FLOOR))
    free = np.ones(density.size, dtype=bool)
    free[erased] = False
    rng = np.random.default_rng([int(seed), int(stream)])
    chosen = []
    for j in rng.permutation(erased):
        pool = np.flatnonzero(free)
        if pool.size == 0:
            break
        dist = np.abs(logd[pool] - logd[j])
        near = pool[np.argsort(dist, kind="stable")[:neighbours]]
        pick = int(rng.choice(near))
        free[pick] = False
        chosen.append(pick)
    return np.sort(np.asarray(chosen, dtype=np.int64))
