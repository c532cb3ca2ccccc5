"""Evaluation of a trained SAE on held-out rows (inference rule of its architecture).

- FVU = sum_n ||x_n - x_hat_n||^2 / sum_n ||x_n - mean(x)||^2 (raw units; the input scale
  cancels);
- L0 per token: the number of active (non-zero) latents; its mean, quantiles and histogram;
- latent density: share of held-out tokens on which each latent is active; dead share: latents
  active on none;
- Zipf fit: least squares of log10(density) on log10(rank) over the alive latents sorted by
  density (rank 1 = densest), slope and R^2.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .sae import SparseAutoencoder

L0_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


@dataclass(frozen=True)
class ZipfFit:
    """log10(density) = intercept + slope * log10(rank) over the alive latents."""

    slope: float
    """Fitted slope (a Zipf law of exponent s has slope -s); NaN with fewer than 2 alive latents."""
    intercept: float
    """Fitted intercept (log10 of the density at rank 1)."""
    r2: float
    """Coefficient of determination of the fit in log-log."""
    n_alive: int
    """Latents in the fit (density > 0)."""


@dataclass(frozen=True)
class SaeEvaluation:
    """Held-out metrics of one SAE."""

    architecture: str
    """Selection rule."""
    k: int
    """Budget k of the run."""
    inference: str
    """Inference rule used ('topk', 'threshold' or 'batch')."""
    n_tokens: int
    """Held-out rows evaluated."""
    n_latents: int
    """F."""
    fvu: float
    """Fraction of variance unexplained."""
    l0_mean: float
    """Mean active latents per token."""
    l0_quantiles: dict[float, float]
    """Quantiles of L0 per token at :data:`L0_QUANTILES`."""
    l0_histogram: np.ndarray
    """Tokens with L0 = 0, 1, 2, ... (length max L0 + 1)."""
    dead_share: float
    """Share of latents active on no held-out token."""
    density: np.ndarray
    """Share of held-out tokens on which each latent is active, [F]."""
    zipf: ZipfFit
    """Zipf fit of density against rank."""

    def summary(self) -> dict:
        """Flat scalars (one table row)."""
        d = dict(architecture=self.architecture, k=self.k, inference=self.inference, n_tokens=self.n_tokens,
                 n_latents=self.n_latents, fvu=self.fvu, l0_mean=self.l0_mean, dead_share=self.dead_share,
                 zipf_slope=self.zipf.slope, zipf_r2=self.zipf.r2, n_alive=self.zipf.n_alive)
        d.update({f"l0_q{int(round(100 * q)):02d}": v for q, v in self.l0_quantiles.items()})
        return d


def zipf_fit(density: np.ndarray) -> ZipfFit:
    """Least-squares line through (log10 rank, log10 density) of the latents with density > 0."""
    d = np.sort(np.asarray(density, dtype=float))[::-1]
    d = d[d > 0]
    if d.size < 2:
        return ZipfFit(float("nan"), float("nan"), float("nan"), int(d.size))
    lx, ly = np.log10(np.arange(1, d.size + 1)), np.log10(d)
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (intercept + slope * lx)
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else 1.0
    return ZipfFit(float(slope), float(intercept), r2, int(d.size))


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, x: np.ndarray | Tensor, batch_size: int = 4096) -> SaeEvaluation:
    """Metrics of ``sae`` on the held-out rows ``x`` ([rows, D]), in chunks of ``batch_size``
    rows (the 'batch' inference rules see these chunks as their batches)."""
    device = sae.W_enc.device
    n, d_in = x.shape
    sum_x = torch.zeros(d_in, dtype=torch.float64, device=device)
    sum_xx = torch.zeros((), dtype=torch.float64, device=device)
    sse = torch.zeros((), dtype=torch.float64, device=device)
    fired = torch.zeros(sae.n_latents, dtype=torch.long, device=device)
    l0s = []
    for s in range(0, n, batch_size):
        chunk = x[s:s + batch_size]
        if not isinstance(chunk, Tensor):
            chunk = torch.from_numpy(np.array(chunk, dtype=np.float32))
        xb = chunk.to(device, torch.float32)
        codes = sae.encode(xb)
        x_hat = sae.decode(codes)
        sse += (xb - x_hat).double().pow(2).sum()
        sum_x += xb.double().sum(0)
        sum_xx += xb.double().pow(2).sum()
        fired += codes.fired()
        l0s.append(codes.l0().cpu())
    total = float(sum_xx - sum_x.pow(2).sum() / n)
    l0 = torch.cat(l0s).numpy()
    density = (fired.double() / n).cpu().numpy()
    opts = getattr(sae.settings, sae.selector.settings_key, None) if sae.settings is not None else None
    inference = getattr(opts, "inference", "topk")
    return SaeEvaluation(
        architecture=sae.selector.name, k=sae.k, inference=inference, n_tokens=int(n), n_latents=sae.n_latents,
        fvu=float(sse) / total if total > 0 else float("nan"), l0_mean=float(l0.mean()),
        l0_quantiles={q: float(np.quantile(l0, q)) for q in L0_QUANTILES},
        l0_histogram=np.bincount(l0), dead_share=float((density == 0).mean()), density=density,
        zipf=zipf_fit(density))
