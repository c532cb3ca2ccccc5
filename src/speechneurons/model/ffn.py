"""FFN sites of speech transformers: hooks, masking and structural resizing.

Layer l (1-based) of the encoder computes FFN(x) = fc2(dropout(act(fc1(x)))). The *site* of
its neurons is h = act(fc1(x)) in R^D, the output of the activation before the intermediate
dropout. It is read with a forward pre-hook on that dropout module (a per-layer module, so a
hook never sees another layer's tensor). Sites are found by walking
``model.encoder.layers[i].feed_forward`` of the base model (HuBERT, wav2vec 2.0, WavLM and
data2vec-audio name them alike in transformers), never by evaluating strings.

Masking a set J of neurons sets h_j = 0 for j in J, which is exactly what deleting row j of
fc1 (and b1[j]) and column j of fc2 does: fc2(h) = sum_j W2[:, j] h_j + b2. Pruning
(:func:`prune_ffn_`) does that deletion for real and records the per-layer widths in
``model.config.ffn_widths`` so that a saved pruned model can be rebuilt by
:func:`speechneurons.models.load_model`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

#: attribute names tried, in order, on a layer's feed-forward block
_FC1 = ("intermediate_dense", "fc1")
_FC2 = ("output_dense", "fc2")
_ACT = ("intermediate_act_fn", "activation_fn", "act")
_DROP = ("intermediate_dropout", "activation_dropout", "dropout1")
_FF = ("feed_forward", "ffn", "mlp")


@dataclass
class FFNSite:
    """The FFN of one encoder layer (``layer`` is 1-based)."""

    layer: int
    block: nn.Module
    fc1: nn.Linear
    fc2: nn.Linear
    act: object
    dropout: nn.Module
    fc1_name: str = "intermediate_dense"
    fc2_name: str = "output_dense"

    @property
    def width(self) -> int:
        """D: the number of neurons (rows of fc1)."""
        return int(self.fc1.out_features)


def _first_attr(obj: object, names: Sequence[str], what: str) -> tuple[str, object]:
    for name in names:
        if hasattr(obj, name):
            return name, getattr(obj, name)
    raise TypeError(f"{type(obj).__name__} has no {what} (tried {', '.join(names)})")


def encoder_layers(model: nn.Module) -> nn.ModuleList:
    """The transformer layers of a speech SSL model (or of a head model wrapping one)."""
    base = getattr(model, "base_model", model)
    encoder = getattr(base, "encoder", None)
    layers = getattr(encoder, "layers", None)
    if not isinstance(layers, nn.ModuleList):
        raise TypeError(
            f"{type(model).__name__} has no encoder.layers: not a HuBERT/wav2vec2/WavLM/data2vec-audio model"
        )
    return layers


def ffn_sites(model: nn.Module) -> list[FFNSite]:
    """One :class:`FFNSite` per encoder layer, layers numbered 1..L."""
    sites = []
    for i, layer in enumerate(encoder_layers(model)):
        _, block = _first_attr(layer, _FF, "feed-forward block")
        fc1_name, fc1 = _first_attr(block, _FC1, "first FFN linear layer")
        fc2_name, fc2 = _first_attr(block, _FC2, "second FFN linear layer")
        _, act = _first_attr(block, _ACT, "FFN activation")
        _, drop = _first_attr(block, _DROP, "FFN intermediate dropout")
        sites.append(FFNSite(i + 1, block, fc1, fc2, act, drop, fc1_name, fc2_name))
    return sites


def _select(sites: list[FFNSite], layers: Iterable[int] | None) -> list[FFNSite]:
    if layers is None:
        return sites
    by_layer = {s.layer: s for s in sites}
    wanted = list(layers)
    missing = [l for l in wanted if l not in by_layer]
    if missing:
        raise ValueError(f"layers {missing} do not exist: the model has layers 1..{len(sites)}")
    return [by_layer[l] for l in wanted]


@contextlib.contextmanager
def capture_ffn(model: nn.Module, layers: Iterable[int] | None = None) -> Iterator[dict[int, torch.Tensor]]:
    """Capture the FFN site h = act(fc1(x)) of ``layers`` (default: all) during forward passes.

    Yields a dict layer -> tensor [batch, frames, D] holding the latest forward pass (detached,
    not copied; it is replaced at every pass, so memory stays one batch). The hooks are
    removed when the block exits, also on error.
    """
    captured: dict[int, torch.Tensor] = {}
    handles = []

    def make_hook(layer: int):
        def hook(module, args):
            captured[layer] = args[0].detach()

        return hook

    try:
        for site in _select(ffn_sites(model), layers):
            handles.append(site.dropout.register_forward_pre_hook(make_hook(site.layer)))
        yield captured
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def mask_ffn(model: nn.Module, neurons: Mapping[int, Sequence[int] | torch.Tensor]) -> Iterator[None]:
    """Zero the activations h_j of the given neurons ({layer: indices}) in forward passes.

    Equivalent to deleting those neurons (see :func:`prune_ffn_`). Hooks are removed on exit.
    Registered before a :func:`capture_ffn`, the capture sees the masked activations.
    """
    handles = []

    def make_hook(idx: torch.Tensor):
        def hook(module, args):
            h = args[0].clone()
            h[..., idx.to(h.device)] = 0
            return (h,) + tuple(args[1:])

        return hook

    try:
        sites = {s.layer: s for s in _select(ffn_sites(model), neurons.keys())}
        for layer, idx in neurons.items():
            idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
            if idx.numel() == 0:
                continue
            handles.append(sites[layer].dropout.register_forward_pre_hook(make_hook(idx)))
        yield
    finally:
        for h in handles:
            h.remove()


@contextlib.contextmanager
def without_ffn(model: nn.Module, neurons: Mapping[int, Sequence[int] | torch.Tensor]) -> Iterator[None]:
    """Forward passes without the given neurons ({layer: indices}): fc1 and fc2 of each listed
    layer are replaced by copies without those rows and columns (the deletion of
    :func:`prune_ffn_`), and the originals are put back on exit.

    The same function as :func:`mask_ffn` (fc2 then sums fewer terms, so the outputs agree to
    float rounding), and faster by the share of neurons removed. The FFN site seen by hooks is
    narrower in here: use :func:`mask_ffn` for passes that capture or edit the site.
    """
    swapped: list[tuple[FFNSite, nn.Linear, nn.Linear]] = []
    try:
        sites = {s.layer: s for s in _select(ffn_sites(model), neurons.keys())}
        with torch.no_grad():
            for layer, idx in neurons.items():
                site = sites[layer]
                idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1)
                if idx.numel() == 0:
                    continue
                if idx.min() < 0 or idx.max() >= site.width:
                    raise ValueError(f"layer {layer}: neuron indices must lie in 0..{site.width - 1}")
                keep = torch.ones(site.width, dtype=torch.bool)
                keep[idx] = False
                keep = torch.nonzero(keep).flatten().to(site.fc1.weight.device)
                b1 = None if site.fc1.bias is None else site.fc1.bias.index_select(0, keep)
                fc1 = _sliced_linear(site.fc1, site.fc1.weight.index_select(0, keep), b1)
                fc2 = _sliced_linear(site.fc2, site.fc2.weight.index_select(1, keep), site.fc2.bias)
                swapped.append((site, site.fc1, site.fc2))
                setattr(site.block, site.fc1_name, fc1)
                setattr(site.block, site.fc2_name, fc2)
        yield
    finally:
        for site, fc1, fc2 in reversed(swapped):
            setattr(site.block, site.fc1_name, fc1)
            setattr(site.block, site.fc2_name, fc2)


def _sliced_linear(like: nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None) -> nn.Linear:
    """A Linear holding ``weight`` (and ``bias``) without initialising fresh weights first."""
    lin = torch.nn.utils.skip_init(
        nn.Linear,
        weight.shape[1],
        weight.shape[0],
        bias=like.bias is not None,
        device=weight.device,
        dtype=weight.dtype,
    )
    lin.weight = nn.Parameter(weight, requires_grad=False)
    if bias is not None:
        lin.bias = nn.Parameter(bias, requires_grad=False)
    return lin


def _new_linear(in_features: int, out_features: int, like: nn.Linear) -> nn.Linear:
    lin = nn.Linear(in_features, out_features, bias=like.bias is not None)
    return lin.to(device=like.weight.device, dtype=like.weight.dtype)


def ffn_widths(model: nn.Module) -> list[int]:
    """Per-layer FFN widths D_l."""
    return [s.width for s in ffn_sites(model)]


def _record_widths(model: nn.Module) -> None:
    model.config.ffn_widths = ffn_widths(model)


@torch.no_grad()
def prune_ffn_(model: nn.Module, keep: Mapping[int, Sequence[int] | torch.Tensor]) -> nn.Module:
    """Keep only the neurons ``keep[layer]`` (indices, any order; kept in ascending order) of
    each listed layer, in place: rows of fc1 (and b1) and columns of fc2 are deleted.

    Layers not in ``keep`` are untouched. Records ``model.config.ffn_widths``. Returns model.
    """
    sites = {s.layer: s for s in _select(ffn_sites(model), keep.keys())}
    for layer, idx in keep.items():
        site = sites[layer]
        idx = torch.as_tensor(idx, dtype=torch.long).reshape(-1).unique(sorted=True)
        if idx.numel() and (idx.min() < 0 or idx.max() >= site.width):
            raise ValueError(f"layer {layer}: neuron indices must lie in 0..{site.width - 1}")
        idx = idx.to(site.fc1.weight.device)
        fc1 = _new_linear(site.fc1.in_features, int(idx.numel()), site.fc1)
        fc1.weight.copy_(site.fc1.weight[idx])
        if fc1.bias is not None:
            fc1.bias.copy_(site.fc1.bias[idx])
        fc2 = _new_linear(int(idx.numel()), site.fc2.out_features, site.fc2)
        fc2.weight.copy_(site.fc2.weight[:, idx])
        if fc2.bias is not None:
            fc2.bias.copy_(site.fc2.bias)
        setattr(site.block, site.fc1_name, fc1)
        setattr(site.block, site.fc2_name, fc2)
    _record_widths(model)
    return model


def resize_ffn_(model: nn.Module, widths: Sequence[int]) -> nn.Module:
    """Give layer l an FFN of width ``widths[l-1]`` (fresh weights; used before loading a
    pruned checkpoint). Records ``model.config.ffn_widths``."""
    sites = ffn_sites(model)
    if len(widths) != len(sites):
        raise ValueError(f"ffn_widths has {len(widths)} entries for a model with {len(sites)} layers")
    for site, width in zip(sites, widths):
        if int(width) != site.width:
            setattr(site.block, site.fc1_name, _new_linear(site.fc1.in_features, int(width), site.fc1))
            setattr(site.block, site.fc2_name, _new_linear(int(width), site.fc2.out_features, site.fc2))
    _record_widths(model)
    return model
