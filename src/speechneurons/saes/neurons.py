"""SAE latents where the neuron studies use neurons: latent rows for the property statistic,
and the SAE spliced into the model's FFN site (with latents erased) for the downstream cost.

The property-neuron statistic (``speechneurons.properties.statistic.compute_layer``) takes any [rows, D]
array; :func:`latent_rows` turns a dump of FFN activations into the [rows, F] latent array of
an SAE, so the same statistic (tau = round(tau_fraction * F)) finds "property latents".
:func:`spliced_ffn` replaces h = act(fc1(x)) by the SAE's reconstruction during forward
passes, so probes and masked-prediction losses measure what splicing costs and what erasing
property latents does, next to erasing property neurons (``speechneurons.model.ffn.mask_ffn``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from speechneurons.model.ffn import ffn_sites

from .sae import SparseAutoencoder


def latent_rows(
    sae: SparseAutoencoder, acts: np.ndarray, chunk_rows: int = 4096, dtype: np.dtype = np.float16
) -> np.ndarray:
    """z = the SAE's code (inference rule) of every row of ``acts`` [n, D] (a memory map is
    fine), as an [n, F] array of ``dtype``. Rows are encoded in chunks of ``chunk_rows``, so
    batch-dependent rules ('batch' inference) see those chunks as batches."""
    device = sae.W_enc.device
    out = np.empty((acts.shape[0], sae.n_latents), dtype=dtype)
    for s in range(0, acts.shape[0], chunk_rows):
        x = torch.from_numpy(np.array(acts[s : s + chunk_rows], dtype=np.float32)).to(device)
        out[s : s + chunk_rows] = sae.encode_dense(x).cpu().numpy().astype(dtype)
    return out


def _erase_mask(n_latents: int, idx: Sequence[int] | torch.Tensor | None, device) -> torch.Tensor | None:
    if idx is None:
        return None
    idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
    if idx.numel() == 0:
        return None
    keep = torch.ones(n_latents, device=device)
    keep[idx.to(device)] = 0
    return keep


def splice(
    sae: SparseAutoencoder, h: torch.Tensor, erase: Sequence[int] | torch.Tensor | None = None, keep_error: bool = False
) -> torch.Tensor:
    """The FFN activations that replace ``h`` ([..., D]).

    keep_error False: x_hat with the ``erase`` latents zeroed (the SAE's reconstruction error
    is part of the effect). keep_error True: h - (x_hat - x_hat_erased), i.e. h with only the
    erased latents' decoder contributions removed (the reconstruction error is kept, so that
    erasing nothing returns h exactly: an erasure comparable to zeroing neurons).
    """
    shape = h.shape
    x = h.reshape(-1, shape[-1])
    codes = sae.encode(x)
    keep = _erase_mask(sae.n_latents, erase, x.device)
    if keep is None:
        if keep_error:
            return h
        return sae.decode(codes).to(h.dtype).reshape(shape)
    erased = codes._replace(values=codes.values * keep[codes.layout.latent])
    if keep_error:
        removed = (sae.decode(codes) - sae.decode(erased)).to(h.dtype)
        return (x - removed).reshape(shape)
    return sae.decode(erased).to(h.dtype).reshape(shape)


@contextlib.contextmanager
def spliced_ffn(
    model: nn.Module,
    saes: Mapping[int, SparseAutoencoder],
    erase: Mapping[int, Sequence[int] | torch.Tensor] | None = None,
    keep_error: bool = False,
) -> Iterator[None]:
    """Replace the FFN activations of the layers in ``saes`` ({layer (1-based): SAE trained on
    that layer's FFN site}) by :func:`splice` during forward passes; ``erase`` = {layer: latent
    indices to zero}. Hooks are removed on exit, also on error. Padded frames are spliced too
    (their outputs are masked downstream, as for :func:`speechneurons.model.ffn.mask_ffn`)."""

    erase = erase or {}
    handles = []

    def make_hook(layer: int):
        sae = saes[layer]

        def hook(module, args):
            return (splice(sae, args[0], erase.get(layer), keep_error),) + tuple(args[1:])

        return hook

    try:
        sites = {s.layer: s for s in ffn_sites(model)}
        for layer in saes:
            if layer not in sites:
                raise ValueError(f"no FFN layer {layer}; the model has layers {sorted(sites)}")
            handles.append(sites[layer].dropout.register_forward_pre_hook(make_hook(layer)))
        yield
    finally:
        for h in handles:
            h.remove()
