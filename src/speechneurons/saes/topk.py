"""TopK (Gao et al. 2024; OpenAI sparse_autoencoder, EleutherAI sparsify): every token keeps its k
largest pre-activations, at training and at inference."""

from __future__ import annotations

from torch import Tensor

from .selector import Selector, topk_layout
from .sparse_ops import SparseLayout


class TopK(Selector):
    """Exactly k entries per token (the budget of a batch is k N, spent evenly)."""

    name = "topk"
    settings_key = "topk"

    def select(self, pre: Tensor) -> SparseLayout:
        return topk_layout(pre, self.k)
