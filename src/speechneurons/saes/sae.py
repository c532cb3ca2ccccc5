"""The sparse autoencoder: encoder, selection rule, decoder, input scale; save and load.

With x the input row (D values) and s the stored input scale (x' = s x has E||x'||^2 = D on
the training rows):

    pre   = W_enc (s x - b_pre) + b_lat                      (F values)
    z     = ReLU(pre) on the entries the selection rule keeps, 0 elsewhere
    x_hat = (W_dec z + b_pre) / s

``W_dec`` is stored as an F x D tensor whose row i is latent i's decoder direction (column i of
the D x F decoder matrix of the formula); these directions have unit norm. ``W_enc`` (F x D)
starts as the transpose of the decoder matrix, i.e. equal to the stored ``W_dec`` (times
``encoder_init_scale``, 1 by default).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from ..io import atomic_dir
from .registry import selector_class
from .selector import Selector
from .settings import SaeSettings
from .sparse_ops import SparseLayout, sampled_linear, sparse_decode

WEIGHTS_FILE = "sae.safetensors"
SETTINGS_FILE = "settings.json"
STORED_HALF = ("W_enc", "W_dec")
"""The two F x D matrices are stored in float16 (half the disk of an SAE; issue 28). Training
ends with :meth:`SparseAutoencoder.round_to_storage`, so the SAE that is evaluated is the one
that is saved and loaded again, value for value."""


class Codes(NamedTuple):
    """The sparse code of a batch: kept positions and their activations."""

    layout: SparseLayout
    """Kept (token, latent) positions, token-major."""
    values: Tensor
    """z at those positions (ReLU of the pre-activations; may be 0), [nnz]."""

    def dense(self) -> Tensor:
        """The N x F code matrix."""
        lay = self.layout
        z = torch.zeros(lay.n_tokens, lay.n_latents, dtype=self.values.dtype, device=self.values.device)
        z[lay.token, lay.latent] = self.values
        return z

    def l0(self) -> Tensor:
        """Active (non-zero) latents per token, [N]."""
        lay = self.layout
        return torch.bincount(lay.token[self.values > 0], minlength=lay.n_tokens)

    def fired(self) -> Tensor:
        """Tokens on which each latent is active, [F]."""
        lay = self.layout
        return torch.bincount(lay.latent[self.values > 0], minlength=lay.n_latents)


class TrainOutput(NamedTuple):
    """One training forward pass, in the scaled input space."""

    x_hat: Tensor
    """Reconstruction W_dec z + b_pre of the scaled input, [N, D]."""
    codes: Codes
    """The sparse code (values carry gradients)."""
    pre: Tensor
    """Dense pre-activations [N, F] (no gradient), for the auxiliary losses."""
    centred: Tensor
    """s x - b_pre, [N, D] (no gradient)."""


class SparseAutoencoder(nn.Module):
    """A sparse autoencoder whose selection rule is ``selector`` (one of
    :data:`~speechneurons.saes.registry.SAE_ARCHITECTURES`)."""

    def __init__(self, d_in: int, n_latents: int, selector: Selector, settings: SaeSettings | None = None):
        super().__init__()
        self.d_in, self.n_latents = d_in, n_latents
        self.selector = selector
        self.settings = settings
        self.autocast_dtype = torch.bfloat16 if settings is not None and settings.dtype == "bfloat16" else None
        self.W_enc = nn.Parameter(torch.empty(n_latents, d_in))
        self.b_lat = nn.Parameter(torch.zeros(n_latents))
        self.W_dec = nn.Parameter(torch.empty(n_latents, d_in))
        self.b_pre = nn.Parameter(torch.zeros(d_in))
        self.register_buffer("input_scale", torch.ones(()))

    @classmethod
    def build(cls, d_in: int, settings: SaeSettings, generator: torch.Generator | None = None) -> SparseAutoencoder:
        """A freshly initialised SAE: random unit-norm decoder directions (Gaussian, from
        ``generator``), W_enc = encoder_init_scale times them, b_lat = 0, b_pre = 0, scale 1 (see
        :func:`speechneurons.saes.training.train_sae` for the data-dependent parts)."""
        n_latents = settings.n_latents(d_in)
        selector = selector_class(settings.architecture)(n_latents, settings)
        sae = cls(d_in, n_latents, selector, settings)
        with torch.no_grad():
            w = torch.randn(n_latents, d_in, generator=generator)
            w /= w.norm(dim=1, keepdim=True)
            sae.W_dec.copy_(w)
            sae.W_enc.copy_(settings.encoder_init_scale * w)
        return sae

    @property
    def k(self) -> int:
        return self.selector.k

    # ------------------------------------------------------------------ forward passes

    def _autocast(self, device: torch.device):
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.autocast_dtype)

    @torch.no_grad()
    def pre_activations(self, xs: Tensor) -> tuple[Tensor, Tensor]:
        """(pre, centred) for scaled inputs ``xs``: centred = xs - b_pre, pre = centred W_enc^T +
        b_lat (both without gradient; pre in float32)."""
        centred = xs - self.b_pre
        with self._autocast(xs.device):
            pre = torch.addmm(self.b_lat, centred, self.W_enc.T).float()
        return pre, centred

    def train_forward(self, xs: Tensor) -> TrainOutput:
        """The training pass on scaled inputs: the training selection rule (updates the rule's
        statistics in training mode), gradients through the kept entries only."""
        pre, centred = self.pre_activations(xs)
        layout = self.selector.select(pre)
        values = torch.relu(sampled_linear(centred, self.b_pre, self.W_enc, self.b_lat, pre, layout))
        x_hat = sparse_decode(values, self.W_dec, layout) + self.b_pre
        return TrainOutput(x_hat, Codes(layout, values), pre, centred)

    @torch.no_grad()
    def encode(self, x: Tensor) -> Codes:
        """Sparse codes of raw inputs [N, D] with the inference rule."""
        pre, _ = self.pre_activations(x.to(self.W_enc.dtype) * self.input_scale)
        layout = self.selector.infer(pre)
        return Codes(layout, torch.relu(pre[layout.token, layout.latent]))

    @torch.no_grad()
    def encode_dense(self, x: Tensor) -> Tensor:
        """The N x F code matrix z of raw inputs (inference rule)."""
        return self.encode(x).dense()

    @torch.no_grad()
    def decode(self, codes: Codes) -> Tensor:
        """Raw-space reconstruction (W_dec z + b_pre) / s."""
        return (sparse_decode(codes.values, self.W_dec, codes.layout) + self.b_pre) / self.input_scale

    @torch.no_grad()
    def forward(self, x: Tensor) -> Tensor:
        """x_hat of raw inputs (inference rule), in the units and dtype of ``x``."""
        return self.decode(self.encode(x)).to(x.dtype)

    # ------------------------------------------------------------------ decoder constraint

    @torch.no_grad()
    def normalise_decoder(self) -> None:
        """Rescale every decoder direction to unit norm."""
        self.W_dec.div_(self.W_dec.norm(dim=1, keepdim=True).clamp_min(torch.finfo(self.W_dec.dtype).tiny))

    @torch.no_grad()
    def remove_parallel_gradient(self) -> None:
        """g_i <- g_i - <g_i, d_i> d_i for every decoder direction d_i (unit norm) and its gradient
        g_i: the part of the step that would only change the direction's length."""
        if self.W_dec.grad is None:
            return
        d, g = self.W_dec, self.W_dec.grad
        g.sub_((g * d).sum(dim=1, keepdim=True) * d)

    # ------------------------------------------------------------------ persistence

    @torch.no_grad()
    def round_to_storage(self) -> SparseAutoencoder:
        """Round the matrices stored in float16 (STORED_HALF) to float16 values, in place: after
        this, :meth:`save` and :meth:`load` give back exactly this SAE."""
        for name in STORED_HALF:
            w = getattr(self, name)
            w.copy_(w.to(torch.float16).to(w.dtype))
        return self

    def save(self, folder: str | Path) -> None:
        """Write ``sae.safetensors`` (weights, input scale, the rule's state; the matrices of
        STORED_HALF in float16) and ``settings.json`` (settings, D, F) into ``folder``, atomically."""
        from safetensors.torch import save_file

        if self.settings is None:
            raise ValueError("an SAE without settings cannot be saved")
        tensors = {
            k: (v.to(torch.float16) if k in STORED_HALF else v).detach().cpu().contiguous()
            for k, v in self.state_dict().items()
        }
        meta = dict(d_in=self.d_in, n_latents=self.n_latents, settings=self.settings.to_dict())
        with atomic_dir(folder) as tmp:
            save_file(tensors, str(tmp / WEIGHTS_FILE))
            (tmp / SETTINGS_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> SparseAutoencoder:
        """Inverse of :meth:`save` (in eval mode)."""
        from safetensors.torch import load_file

        folder = Path(folder)
        meta = json.loads((folder / SETTINGS_FILE).read_text())
        settings = SaeSettings.from_dict(meta["settings"])
        selector = selector_class(settings.architecture)(meta["n_latents"], settings)
        sae = cls(meta["d_in"], meta["n_latents"], selector, settings)
        sae.load_state_dict(load_file(str(folder / WEIGHTS_FILE)))  # copied into float32 parameters
        return sae.to(device).eval()
