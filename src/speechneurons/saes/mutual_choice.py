"""Mutual choice (Ayonrinde 2024; BatchTopK of Bussmann et al. 2024): the batch's budget
M = k N goes to the M largest entries of the whole N x F pre-activation matrix, so a token
may use many latents or none, and a latent many tokens or none.

Inference: one token at a time cannot see a batch, so by default a threshold theta replaces
the batch: theta is the EMA, over training steps, of the smallest kept value (the M-th
largest of the batch). ``inference: batch`` applies the training rule to the evaluation batch.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .selector import Selector, threshold_layout
from .settings import SaeSettings
from .sparse_ops import SparseLayout, make_layout

#: Below this many entries the M-th largest value is found by one exact kthvalue.
_EXACT_BELOW = 1 << 16
#: Size of the strided sample that brackets the M-th largest value on large matrices.
_SAMPLE = 1 << 15


def kth_largest(flat: Tensor, m: int) -> Tensor:
    """The m-th largest value of a 1-D tensor (exact).

    On large inputs a strided sample gives a lower bound that, with a safety margin, has at
    least m entries above it; the exact value is then the kthvalue among those candidates
    (about 3x faster than one kthvalue over N F entries for N = 1024, F = 2048). When the bound
    fails (fewer than m candidates) the full kthvalue is used, so the result is always exact.
    """
    n = flat.numel()
    if not 1 <= m <= n:
        raise ValueError(f"need 1 <= m <= {n}, got {m}")
    if n <= _EXACT_BELOW:
        return flat.kthvalue(n - m + 1).values
    stride = n // _SAMPLE | 1  # odd, so that it does not walk down a few columns of a row-major matrix
    sample = flat[::stride]
    s = sample.numel()
    expected = m * s / n
    pos = int(min(s, expected + 4.0 * expected**0.5 + 16))  # sample rank of the lower bound
    low = sample.topk(pos, sorted=False).values.min()
    cand = flat[flat >= low]
    if cand.numel() < m:
        return flat.kthvalue(n - m + 1).values
    return cand.kthvalue(cand.numel() - m + 1).values


def batch_topk_layout(pre: Tensor, m: int) -> tuple[SparseLayout, Tensor]:
    """Exactly the m largest entries of ``pre`` (ties at the threshold broken by row-major
    position), and the threshold (the smallest kept value)."""
    n_tokens, n_latents = pre.shape
    thr = kth_largest(pre.reshape(-1), m)
    above = pre > thr
    n_above = int(above.sum())
    token, latent = above.nonzero(as_tuple=True)
    if n_above < m:  # fill up with entries equal to the threshold, first positions first
        tie_t, tie_l = (pre == thr).nonzero(as_tuple=True)
        extra = m - n_above
        flat = torch.cat([token * n_latents + latent, tie_t[:extra] * n_latents + tie_l[:extra]]).sort().values
        token, latent = flat // n_latents, flat % n_latents
    return make_layout(token, latent, n_tokens, n_latents), thr


class MutualChoice(Selector):
    """Batch top-k with budget M = k N; ``theta`` (buffer) is the inference threshold."""

    name = "mutual_choice"
    settings_key = "mutual_choice"

    def __init__(self, n_latents: int, settings: SaeSettings):
        super().__init__(n_latents, settings)
        self.inference = settings.mutual_choice.inference
        self.register_buffer("theta", torch.zeros(()))
        self.register_buffer("theta_seen", torch.zeros((), dtype=torch.bool))

    def select(self, pre: Tensor) -> SparseLayout:
        layout, thr = batch_topk_layout(pre, self.k * pre.shape[0])
        if self.training:
            with torch.no_grad():
                self.theta.copy_(self._ema(self.theta, thr.to(self.theta.dtype), self.theta_seen))
                self.theta_seen.fill_(True)
        return layout

    def infer(self, pre: Tensor) -> SparseLayout:
        if self.inference == "batch":
            return self.select_frozen(pre)
        return threshold_layout(pre, self.theta)
