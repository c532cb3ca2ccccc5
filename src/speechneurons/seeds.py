"""The seeds of repeated draws, derived from the run's seed in one place.

The permutation nulls of the property statistic (properties stage, and the SAE latents, which
use the same draws) take seeds ``1000 * seed + s``; the bootstrap replicates of the counts take
``1000 * seed + 500 + s``, so that the two families never share a draw and every layer gets the
same draws.
"""

from __future__ import annotations


def null_seeds(seed: int, n: int) -> list[int]:
    """The seeds of ``n`` permutation-null draws: ``1000 * seed + s``, s < n."""
    return [1000 * seed + s for s in range(n)]


def bootstrap_seeds(seed: int, n: int) -> list[int]:
    """The seeds of ``n`` bootstrap replicates of the counts: ``1000 * seed + 500 + s``, s < n."""
    return [1000 * seed + 500 + s for s in range(n)]
