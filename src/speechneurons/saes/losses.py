"""Training losses: normalised reconstruction error and the two auxiliary losses.

All three are divided by a total variance, so that they are scale-free:

- reconstruction: L = ||x - x_hat||^2 / ||x - mean(x)||^2 over the batch (the batch FVU; a
  mean squared error divided by a per-batch constant, as in OpenAI's and sparsify's trainers);
- aux-k (Gao et al. 2024, Appendix A.2): the k_aux largest pre-activations among *dead*
  latents (no firing for ``dead_tokens`` training tokens) reconstruct the residual
  e = x - x_hat through the decoder (no bias): e_hat = W_dec ReLU(topk_aux(pre restricted to
  dead)); L_aux = ||e - e_hat||^2 / ||e - mean(e)||^2, with e treated as a constant;
- aux-zipf (this project's reading of Ayonrinde 2024's ``aux_zipf_loss``, which "generalises
  aux-k to dead and under-used latents"; the paper's exact formula was not available offline):
  each latent gets a weight w_i = clip(1 - d_i / d*_i, 0, 1), where d_i is its EMA firing rate
  and d*_i = min(1, k r_i^-s / sum_j r_j^-s) the rate a Zipf law over usage rank r_i (rank 1 =
  most used; s = ``zipf_exponent``; s = 0 is the uniform k / F) expects at its rank. Latents
  with w_i > 0 are *under-used*; the k_aux largest of their pre-activations per token, scaled
  by w_i, reconstruct the residual as in aux-k. A dead latent has w_i = 1, so with weights
  restricted to {0, 1} on the dead set this is aux-k; under-used latents get a gradient that
  grows with their shortfall, pulling the density-rank curve toward the Zipf law.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .sae import SparseAutoencoder, TrainOutput
from .sparse_ops import layout_from_topk, sampled_linear, sparse_decode


def total_variance(x: Tensor) -> Tensor:
    """||x - mean(x)||^2 summed over rows and dimensions (a constant, no gradient)."""
    x = x.detach()
    return (x - x.mean(0)).pow(2).sum()


def reconstruction_loss(x: Tensor, x_hat: Tensor) -> Tensor:
    """||x - x_hat||^2 / ||x - mean(x)||^2 over the batch (its FVU)."""
    return (x - x_hat).pow(2).sum() / total_variance(x).clamp_min(1e-12)


def zipf_target_density(usage: Tensor, k: int, exponent: float) -> Tensor:
    """d*_i = min(1, k r_i^-s / sum_j r_j^-s), r_i = rank of ``usage`` (1 = largest, ties by index)."""
    order = torch.argsort(-usage, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(1, usage.numel() + 1, device=usage.device)
    w = rank.double() ** -exponent
    return (k * w / w.sum()).clamp(max=1.0).to(usage.dtype)


def zipf_weights_underused(usage: Tensor, k: int, exponent: float) -> Tensor:
    """w_i = clip(1 - d_i / d*_i, 0, 1) with d_i = ``usage`` (EMA firing rates)."""
    target = zipf_target_density(usage, k, exponent)
    return (1 - usage / target.clamp_min(1e-12)).clamp(0, 1)


def residual_aux_loss(sae: SparseAutoencoder, x: Tensor, out: TrainOutput, weights: Tensor, k_aux: int) -> Tensor:
    """||e - e_hat||^2 / ||e - mean(e)||^2 where e = x - x_hat (constant) and e_hat is the
    decoder (no bias) applied to w_i ReLU(pre_i) for the k_aux largest pre-activations per token
    among latents with ``weights`` > 0. Zero (with a graph) when no latent has weight > 0."""
    candidates = weights > 0
    n_cand = int(candidates.sum())
    if n_cand == 0 or k_aux < 1:
        return out.x_hat.sum() * 0.0
    k_eff = min(k_aux, n_cand)
    cols = torch.nonzero(candidates).squeeze(1)
    idx = cols[out.pre.index_select(1, cols).topk(k_eff, dim=1, sorted=False).indices]
    layout = layout_from_topk(idx, sae.n_latents)
    values = torch.relu(sampled_linear(out.centred, sae.b_pre, sae.W_enc, sae.b_lat, out.pre, layout))
    values = values * weights[layout.latent]
    e = (x - out.x_hat).detach()
    e_hat = sparse_decode(values, sae.W_dec, layout)
    return (e - e_hat).pow(2).sum() / total_variance(e).clamp_min(1e-12)
