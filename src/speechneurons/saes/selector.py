"""The interface of a selection rule: which entries of the N x F pre-activation matrix survive.

A rule returns a :class:`~speechneurons.saes.sparse_ops.SparseLayout` (the kept positions); the
SAE then takes z = ReLU(pre) on those positions and 0 elsewhere. Kept entries whose
pre-activation is <= 0 count against the budget but are inactive (z = 0).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .settings import SaeSettings
from .sparse_ops import SparseLayout, layout_from_mask, layout_from_topk


class Selector(nn.Module):
    """Base class. Subclasses hold their state (thresholds, usage) as buffers, so that it is
    saved with the SAE's weights."""

    name: str = ""
    settings_key: str = ""

    def __init__(self, n_latents: int, settings: SaeSettings):
        super().__init__()
        self.n_latents = n_latents
        self.k = settings.k
        self.ema_decay = settings.ema_decay

    def select(self, pre: Tensor) -> SparseLayout:
        """The training rule on a batch's pre-activations [N, F]; updates the rule's running
        statistics when the module is in training mode."""
        raise NotImplementedError

    def infer(self, pre: Tensor) -> SparseLayout:
        """The inference rule (default: the training rule without updating statistics)."""
        return self.select_frozen(pre)

    def select_frozen(self, pre: Tensor) -> SparseLayout:
        was = self.training
        self.train(False)
        try:
            return self.select(pre)
        finally:
            self.train(was)

    def _ema(self, old: Tensor, new: Tensor, seen: Tensor) -> Tensor:
        """EMA update old <- decay old + (1 - decay) new; the first observation (seen False) is taken
        as it is."""
        return torch.where(seen, self.ema_decay * old + (1 - self.ema_decay) * new, new)


def topk_layout(pre: Tensor, k: int) -> SparseLayout:
    """Each row keeps its k largest entries (ties: torch.topk's choice)."""
    idx = pre.topk(min(k, pre.shape[1]), dim=1, sorted=False).indices
    return layout_from_topk(idx, pre.shape[1])


def threshold_layout(pre: Tensor, theta: Tensor) -> SparseLayout:
    """Entries above ``theta`` (a scalar or one value per latent) and above 0."""
    return layout_from_mask((pre > theta) & (pre > 0))
