"""Sparse encoder and decoder products of an SAE step, with hand-written backward passes.

A selection rule keeps ``nnz`` entries (token n_j, latent f_j) of the N x F pre-activation
matrix. Two products only touch those entries:

- the *sampled* encoder product: pre_j = <x[n_j] - b_pre, W_enc[f_j]> + b_lat[f_j] (the forward
  values come from the dense product that the selection needed anyway; the backward pass is
  sparse: dL/dW_enc[f] = sum_{j: f_j = f} g_j (x[n_j] - b_pre), dL/db_lat[f] = sum_{j: f_j = f} g_j,
  dL/db_pre = -sum_f dL/db_lat[f] W_enc[f]);
- the *sparse* decoder product: x_hat[n] = sum_{j: n_j = n} z_j W_dec[f_j].

Every sum over j is one ``embedding_bag`` call (mode ``sum`` with per-sample weights):
grouped by token for x_hat, grouped by latent (one stable argsort of the latent
indices per step) for dL/dW_enc. The decoder's dL/dz uses torch's fused per-sample-weight
kernel; dL/dW_dec = sum_{j: f_j = f} z_j G[n_j] is one more latent-grouped bag. Nothing of size
nnz x D is materialised: a dense encoder backward would cost 2 N F D multiply-adds, this one
about 2 nnz D (sparsify's FusedEncoder materialises an [N, k, D] product for dL/dW_enc, which
costs about as much as the forward encoder product on a CPU).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor


class SparseLayout(NamedTuple):
    """Positions of the kept entries of an N x F matrix, in two orders."""

    token: Tensor
    """Token (row) index of each entry, ascending (int64, [nnz])."""
    latent: Tensor
    """Latent (column) index of each entry, in the same order as ``token`` (int64, [nnz])."""
    token_offsets: Tensor
    """Start of each token's entries in ``token`` order (int64, [N]); empty rows repeat."""
    by_latent: Tensor
    """Permutation that sorts the entries by latent, stable (int64, [nnz])."""
    latent_offsets: Tensor
    """Start of each latent's entries in ``by_latent`` order (int64, [F])."""
    n_tokens: int
    """N, the number of rows."""
    n_latents: int
    """F, the number of columns."""


def _offsets(sorted_index: Tensor, n: int) -> Tensor:
    counts = torch.bincount(sorted_index, minlength=n)
    return torch.cumsum(counts, 0) - counts


def make_layout(token: Tensor, latent: Tensor, n_tokens: int, n_latents: int) -> SparseLayout:
    """A :class:`SparseLayout` from entry positions; ``token`` must be sorted ascending."""
    token = token.long()
    latent = latent.long()
    by_latent = torch.argsort(latent, stable=True)
    return SparseLayout(
        token, latent, _offsets(token, n_tokens), by_latent, _offsets(latent[by_latent], n_latents), n_tokens, n_latents
    )


def layout_from_topk(indices: Tensor, n_latents: int) -> SparseLayout:
    """The layout of a per-row top-k selection: ``indices`` is [N, k] (row n keeps k latents)."""
    n, k = indices.shape
    token = torch.arange(n, device=indices.device).repeat_interleave(k)
    return make_layout(token, indices.reshape(-1), n, n_latents)


def layout_from_mask(mask: Tensor) -> SparseLayout:
    """The layout of the True entries of an N x F boolean matrix (row-major order)."""
    token, latent = mask.nonzero(as_tuple=True)
    return make_layout(token, latent, mask.shape[0], mask.shape[1])


def bag_sum(index: Tensor, offsets: Tensor, weights: Tensor, table: Tensor) -> Tensor:
    """out[b] = sum_{j in bag b} weights[j] * table[index[j]]; bag b starts at offsets[b]."""
    return F.embedding_bag(index, table, offsets, mode="sum", per_sample_weights=weights.to(table.dtype))


class _SampledLinear(torch.autograd.Function):
    @staticmethod
    def forward(ctx, centred, b_pre, weight, bias, values, layout: SparseLayout):
        ctx.save_for_backward(centred, weight)
        ctx.layout = layout
        return values.clone()

    @staticmethod
    def backward(ctx, g):
        centred, weight = ctx.saved_tensors
        lay: SparseLayout = ctx.layout
        g = g.contiguous()
        grad_pre = grad_w = grad_b = None
        if ctx.needs_input_grad[2]:
            grad_w = bag_sum(lay.token[lay.by_latent], lay.latent_offsets, g[lay.by_latent], centred)
        if ctx.needs_input_grad[1] or ctx.needs_input_grad[3]:
            grad_b = torch.zeros(lay.n_latents, dtype=g.dtype, device=g.device).index_add_(0, lay.latent, g)
        if ctx.needs_input_grad[1]:  # sum_n dL/dx_n = sum_j g_j W_enc[f_j] = grad_b_lat @ W_enc, through -b_pre
            grad_pre = -(grad_b.to(weight.dtype) @ weight)
        return None, grad_pre, grad_w, grad_b if ctx.needs_input_grad[3] else None, None, None


def sampled_linear(
    centred: Tensor, b_pre: Tensor, weight: Tensor, bias: Tensor, pre: Tensor, layout: SparseLayout
) -> Tensor:
    """pre_j = <x[n_j] - b_pre, weight[f_j]> + bias[f_j] for the entries of ``layout``, as a [nnz]
    tensor, differentiable in ``b_pre``, ``weight`` and ``bias``.

    ``centred`` = x - b_pre (no gradient) and ``pre`` = the dense N x F product
    ``centred @ weight.T + bias`` are already computed (the selection needs them); the entries of
    ``pre`` are the forward values, and the backward pass is the sparse one of the module
    docstring (the inputs x are data: their gradient is never formed; b_pre's is
    -(dL/db_lat) @ W_enc, an F x D matrix-vector product instead of an N x D bag).
    """
    values = pre[layout.token, layout.latent]
    return _SampledLinear.apply(centred, b_pre, weight, bias, values, layout)


class _BagDecode(torch.autograd.Function):
    @staticmethod
    def forward(ctx, values, weight, layout: SparseLayout):
        ctx.save_for_backward(values, weight)
        ctx.layout = layout
        return bag_sum(layout.latent, layout.token_offsets, values, weight)

    @staticmethod
    def backward(ctx, grad_out):
        values, weight = ctx.saved_tensors
        lay: SparseLayout = ctx.layout
        grad_out = grad_out.contiguous()
        grad_v = grad_w = None
        if ctx.needs_input_grad[0]:  # dL/dz_j = <G[n_j], W_dec[f_j]>: torch's fused kernel, offset2bag = token
            grad_v = torch.ops.aten._embedding_bag_per_sample_weights_backward(
                grad_out, weight, lay.latent, lay.token_offsets, lay.token, 0, -1
            ).to(values.dtype)
        if ctx.needs_input_grad[1]:  # dL/dW_dec[f] = sum_{j: f_j = f} z_j G[n_j], one bag per latent
            grad_w = bag_sum(lay.token[lay.by_latent], lay.latent_offsets, values[lay.by_latent], grad_out)
        return grad_v, grad_w, None


def sparse_decode(values: Tensor, weight: Tensor, layout: SparseLayout) -> Tensor:
    """out[n] = sum_{j: n_j = n} values[j] * weight[f_j]: the N x D product of the sparse code
    matrix with ``weight`` (F x D, one decoder direction per row), without the bias.

    Backward: dL/dz through torch's fused per-sample-weight kernel of ``embedding_bag``;
    dL/dW_dec as one more latent-grouped ``embedding_bag`` (about 2x faster on the CPU than
    ``embedding_bag``'s own dense-weight backward, which sorts the indices again)."""
    if _HAS_PSW_BACKWARD:
        return _BagDecode.apply(values, weight, layout)
    return bag_sum(layout.latent, layout.token_offsets, values, weight)


_HAS_PSW_BACKWARD = hasattr(torch.ops.aten, "_embedding_bag_per_sample_weights_backward")
