"""Density-matched random controls of erased latents."""

import numpy as np
import pytest

from speechneurons.saes.controls import density_matched


def test_control_is_disjoint_same_size_and_matched_in_density():
    rng = np.random.default_rng(0)
    density = 10 ** rng.uniform(-5, -1, size=500)
    erased = np.argsort(density)[-20:]  # the densest latents
    control = density_matched(erased, density, neighbours=5, seed=0, stream=1)
    assert len(control) == 20 and not set(control) & set(erased)
    uniform = rng.choice(np.setdiff1d(np.arange(500), erased), size=20, replace=False)
    gap = abs(np.log10(density[control]).mean() - np.log10(density[erased]).mean())
    assert gap < 0.25 < abs(np.log10(density[uniform]).mean() - np.log10(density[erased]).mean())
    assert np.array_equal(control, density_matched(erased, density, 5, seed=0, stream=1))
    assert not np.array_equal(control, density_matched(erased, density, 5, seed=0, stream=2))


def test_dead_latents_match_dead_latents_and_bad_input_is_refused():
    density = np.array([0.0, 0.0, 0.0, 0.5, 0.4, 0.3])
    assert set(density_matched([0], density, neighbours=2, seed=0)) <= {1, 2}
    assert density_matched([], density, 3).size == 0
    assert len(density_matched([0, 1, 2, 3, 4], density, 3)) == 1  # only one latent left outside
    with pytest.raises(ValueError, match="lie in"):
        density_matched([9], density, 3)
