"""Held-out metrics with known answers, and the figures."""

import numpy as np
import pandas as pd
import torch

from speechneurons.saes import SparseAutoencoder, evaluate_sae, zipf_fit
from speechneurons.saes.plots import (
    plot_dead_share,
    plot_density_rank,
    plot_fvu_vs_l0,
    plot_l0_distributions,
    plot_units,
)
from tests.helpers.sparse_dictionary import sae_settings


def _identity_sae(d: int, k: int) -> SparseAutoencoder:
    """F = D, W_enc = W_dec = I, biases 0, scale 1: z = the k largest positive inputs."""
    sae = SparseAutoencoder.build(d, sae_settings("topk", k=k, expansion_factor=1.0))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
    return sae.eval()


def test_known_fvu_l0_density_and_dead_share():
    x = np.array(
        [[1.0, 2.0, 0.0, 0.0], [3.0, 0.0, 1.0, 0.0], [0.0, 0.0, 5.0, 0.0], [2.0, 1.0, 1.0, 0.0]], dtype=np.float32
    )
    ev = evaluate_sae(_identity_sae(4, 4), x, batch_size=3)  # chunks of 3 and 1 rows
    assert ev.fvu == 0.0
    assert ev.l0_histogram.tolist() == [0, 1, 2, 1]
    assert ev.l0_mean == 2.0 and ev.l0_quantiles[0.5] == 2.0
    assert np.allclose(ev.density, [0.75, 0.5, 0.75, 0.0]) and ev.dead_share == 0.25
    ev2 = evaluate_sae(_identity_sae(4, 1), x)  # one latent per row: the largest entry
    resid = np.array([[1, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0], [0, 1, 1, 0]], dtype=float)
    assert np.isclose(ev2.fvu, (resid**2).sum() / ((x - x.mean(0)) ** 2).sum())


def test_power_law_fit_recovers_alpha_and_rejects_what_is_not_a_power_law():
    from speechneurons.saes.evaluation import _sample_power_law, power_law_fit

    rng = np.random.default_rng(0)
    counts = _sample_power_law(2.5, 2000, rng)
    f = power_law_fit(counts, n_boot=50)
    assert abs(f.alpha - 2.5) < 0.1 and f.p_value > 0.1 and f.lr_exponential > 0 and f.lr_p < 0.05
    # geometric counts (an exponential tail) are no power law: the test rejects them
    g = power_law_fit(rng.geometric(0.05, 2000), n_boot=50)
    assert g.p_value < 0.05 and g.ks > f.ks
    # the figures' rank-density slope is the one the fit implies; dead latents are left out
    density = np.concatenate([counts / 1e5, np.zeros(20)])
    fit = zipf_fit(density, 100_000, n_boot=10)
    assert np.isclose(fit.alpha, f.alpha) and np.isclose(fit.slope, -1 / (f.alpha - 1)) and fit.n_alive == 2000


def test_power_law_above_x_min_is_found_and_kept_over_seeds():
    """Counts from an exact power law above x_min = 10 (a different body below) are not rejected
    in most seeds, with x_min and alpha recovered; exponential and lognormal counts are."""
    from speechneurons.saes.evaluation import _sample_power_law, power_law_fit

    kept = 0
    for seed in range(5):
        rng = np.random.default_rng(seed)
        counts = np.concatenate([_sample_power_law(2.2, 400, rng, x_min=10.0), rng.integers(1, 10, 100)])
        f = power_law_fit(counts, n_boot=40, seed=seed)
        assert abs(f.alpha - 2.2) < 0.2 and 5 <= f.x_min <= 15 and f.lr_exponential > 0
        kept += f.p_value > 0.1
        for other in (rng.geometric(0.02, 500), np.round(rng.lognormal(3.0, 1.0, 500))):
            assert power_law_fit(other, n_boot=40, seed=seed).p_value < 0.05
    assert kept >= 4


def test_an_exact_zipf_law_over_rank_is_not_rejected():
    """The SAE control's case: 256 latents whose densities follow p_r ~ 1 / r (the firing counts a
    power law of alpha = 1 + 1 / s = 2 between the rarest latent's ~10 and the first's ~2,600). The
    fit from x_min = 1 rejected it (alpha 1.26, p 0.000); the x_min search keeps it, from the
    expected counts and from counts drawn from them."""
    p = np.arange(1, 257, dtype=float) ** -1.0
    p *= 4.0 / p.sum()
    exact = zipf_fit(p, 4000, n_boot=40)
    assert abs(exact.alpha - 2.0) < 0.1 and exact.p_value > 0.1 and exact.x_min > 1 and exact.n_tail >= 128
    kept = 0
    for seed in range(5):
        drawn = zipf_fit(np.random.default_rng(seed).binomial(4000, p) / 4000, 4000, n_boot=40)
        assert abs(drawn.alpha - 2.0) < 0.15 and drawn.lr_exponential > 0 and drawn.lr_p < 0.05
        kept += drawn.p_value > 0.1
    assert kept >= 4


def test_figures_are_written(tmp_path):
    x = np.abs(np.random.default_rng(0).normal(size=(300, 6))).astype(np.float32)
    evs = {f"k={k}": evaluate_sae(_identity_sae(6, k), x) for k in (1, 2, 4)}
    table = pd.DataFrame([dict(ev.summary(), layer=layer) for layer, ev in zip((1, 2, 2), evs.values())])
    units = pd.DataFrame([dict(layer=1, units=u, property="gender", group="", n_units=100, n_exclusive=n, chance_q95=1)
                          for u, n in (("neurons", 3), ("topk", 5))])  # fmt: skip
    r_max = pd.DataFrame(dict(layer=1, units=["neurons"] * 3 + ["topk"] * 3, property="gender",
                              unit=[0, 1, 2] * 2, R_max=[0.1, 0.9, 0.5, 0.2, 0.85, 1.0]))  # fmt: skip
    for name, call in {
        "fvu.png": lambda p: plot_fvu_vs_l0(table, p),
        "dead.png": lambda p: plot_dead_share(table.drop_duplicates(["layer", "architecture"]), p),
        "density.png": lambda p: plot_density_rank({1: evs, 2: evs}, p),
        "l0.png": lambda p: plot_l0_distributions({1: evs}, p),
        "units.png": lambda p: plot_units(units, r_max, 0.8, p),
    }.items():
        call(tmp_path / name)
        assert (tmp_path / name).stat().st_size > 1000
