"""Feature choice (Ayonrinde 2024; expert choice routing read with latents as experts): latent i
picks its m_i largest tokens of the batch, sum_i m_i = M = k N, so every latent is used every
batch (no latent can die) and a token may get any number of latents.

Capacities: :class:`FeatureChoice` (architecture ``feature_choice``) gives every latent k N / F
tokens; :class:`FeatureChoiceZipf` (``feature_choice_zipf``) gives the latent of usage rank r a
share proportional to r ** -s (s = ``zipf_exponent``), ranks taken from an EMA of each latent's
firing rate (ties by index, so the first batch ranks by index). Both are water-filled so that
no m_i exceeds N and rounded by largest remainders so that they sum to exactly M.

Inference, by default 'threshold': latent i fires on a token when its pre-activation exceeds
theta_i, the EMA of the smallest value it kept during training (the m_i-th largest of its
column). Why a per-latent threshold rather than per-token TopK: the rule that was trained is
a per-latent one; the thresholds reproduce each latent's training-time firing rate (about
m_i / N) on data like the training data, keep the token-dependent number of active latents
that the architecture exists for, and act on one token at a time (no batch dependence), so
that x_hat can be spliced into the model frame by frame. Per-token TopK would force k latents
on every token, a rule the decoder never saw. 'batch' and 'topk' are available for comparison.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .selector import Selector, threshold_layout, topk_layout
from .settings import SaeSettings
from .sparse_ops import SparseLayout, make_layout


def capacities(weights: Tensor, budget: int, cap: int) -> Tensor:
    """Integer m_i >= 0 with sum m_i = budget, m_i <= cap, m_i close to budget * w_i / sum w.

    Water-filling: latents whose proportional share exceeds ``cap`` get ``cap`` and the rest of
    the budget is shared among the others in proportion to their weights, until no share
    exceeds the cap; then floors plus one for the largest remainders (ties: lower index).
    """
    n = weights.numel()
    if budget > n * cap or budget < 0:
        raise ValueError(f"budget {budget} does not fit {n} latents with at most {cap} tokens each")
    w = weights.double().clamp_min(0)
    q = torch.zeros_like(w)
    free = torch.ones(n, dtype=torch.bool, device=w.device)
    remaining = float(budget)
    while True:
        share = remaining * w * free / (w * free).sum().clamp_min(1e-300)
        over = free & (share > cap)
        if not bool(over.any()):
            q = torch.where(free, share, q)
            break
        q[over] = float(cap)
        free &= ~over
        remaining = budget - float(q[~free].sum())
    m = torch.floor(q + 1e-9).clamp(max=cap)
    short = budget - int(m.sum())
    if short > 0:
        frac = torch.where(m < cap, q - m, torch.full_like(q, -1.0))
        order = torch.argsort(-frac, stable=True)[:short]
        m[order] += 1
    return m.long()


def zipf_weights(usage: Tensor, exponent: float) -> Tensor:
    """w_i = rank_i ** -exponent, rank 1 = the largest ``usage`` (ties by lower index)."""
    order = torch.argsort(-usage, stable=True)
    rank = torch.empty_like(order)
    rank[order] = torch.arange(1, usage.numel() + 1, device=usage.device)
    return rank.double() ** -exponent


def column_topm(pre: Tensor, m: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """(token, latent, smallest): column i of ``pre`` [N, F] keeps its m_i largest rows
    (latent-major order), and ``smallest[i]`` is the m_i-th largest value (NaN where m_i = 0).

    Columns are grouped by m_i rounded up to a power of two and each group takes one top-2^b
    over its columns only, so that a few Zipf-head latents with m_i near N do not make every
    column sort all N tokens (one full sort of an F x N matrix costs ~10x the grouped top-m).
    """
    n_tokens, n_latents = pre.shape
    pre_t = pre.T
    level = torch.where(m > 0, 2 ** torch.ceil(torch.log2(m.clamp_min(1).double())).long(), torch.zeros_like(m))
    level = level.clamp(max=n_tokens)
    tokens, latents = [], []
    smallest = torch.full((n_latents,), float("nan"), dtype=pre.dtype, device=pre.device)
    for lv in torch.unique(level[level > 0]).tolist():
        cols = torch.nonzero(level == lv).squeeze(1)
        vals, toks = pre_t.index_select(0, cols).topk(int(lv), dim=1, sorted=True)
        mc = m[cols]
        keep = torch.arange(int(lv), device=pre.device)[None, :] < mc[:, None]
        tokens.append(toks[keep])
        latents.append(cols[:, None].expand(-1, int(lv))[keep])
        smallest[cols] = vals.gather(1, (mc - 1)[:, None])[:, 0]
    if not tokens:
        empty = torch.zeros(0, dtype=torch.long, device=pre.device)
        return empty, empty, smallest
    return torch.cat(tokens), torch.cat(latents), smallest


class FeatureChoice(Selector):
    """Per-latent top-m_i over the batch's tokens with uniform capacities m_i = k N / F;
    ``theta`` (buffer, [F]) are the inference thresholds, ``usage`` (buffer, [F]) the EMA firing
    rates (they rank the latents of :class:`FeatureChoiceZipf`)."""

    name = "feature_choice"
    settings_key = "feature_choice"
    capacity = "uniform"

    def __init__(self, n_latents: int, settings: SaeSettings):
        super().__init__(n_latents, settings)
        self.inference = settings.feature_choice.inference
        self.exponent = settings.zipf_exponent if self.capacity == "zipf" else 0.0
        self.register_buffer("theta", torch.zeros(n_latents))
        self.register_buffer("theta_seen", torch.zeros(n_latents, dtype=torch.bool))
        self.register_buffer("usage", torch.zeros(n_latents))

    def capacities(self, n_tokens: int) -> Tensor:
        """m_i for a batch of ``n_tokens`` (sum = k N, each <= N)."""
        return capacities(zipf_weights(self.usage, self.exponent), self.k * n_tokens, n_tokens)

    def select(self, pre: Tensor) -> SparseLayout:
        n_tokens, n_latents = pre.shape
        m = self.capacities(n_tokens).to(pre.device)
        token, latent, smallest = column_topm(pre, m)
        order = torch.argsort(token * n_latents + latent)
        layout = make_layout(token[order], latent[order], n_tokens, n_latents)
        if self.training:
            with torch.no_grad():
                has = m > 0
                new = self._ema(self.theta, smallest.to(self.theta.dtype), self.theta_seen)
                self.theta.copy_(torch.where(has, new, self.theta))
                self.theta_seen |= has
                fired = torch.bincount(latent[pre[token, latent] > 0], minlength=n_latents).to(self.usage.dtype)
                self.usage.mul_(self.ema_decay).add_((1 - self.ema_decay) * fired / n_tokens)
        return layout

    def infer(self, pre: Tensor) -> SparseLayout:
        if self.inference == "batch":
            return self.select_frozen(pre)
        if self.inference == "topk":
            return topk_layout(pre, self.k)
        theta = torch.where(self.theta_seen, self.theta, torch.full_like(self.theta, float("inf")))
        return threshold_layout(pre, theta)


class FeatureChoiceZipf(FeatureChoice):
    """Feature choice with Zipf capacities: m_i proportional to rank_i ** -zipf_exponent."""

    name = "feature_choice_zipf"
    capacity = "zipf"
