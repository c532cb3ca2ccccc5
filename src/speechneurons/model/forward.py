"""Forward passes whose results do not depend on how utterances are batched.

Zero-padding a batch changes the output of a front-end whose first conv layer is
group-normalised (HuBERT and wav2vec 2.0 base, the tiny HuBERT): the normalisation statistics
run over the padding, and the attention mask never reaches them. So the front-end (the conv
feature encoder, or a log-Mel front-end) gives each utterance what it gives alone: a conv stack
runs on the padded batch with that GroupNorm's statistics taken over each utterance's own time
steps (:func:`front_ends`; valid frames of a conv stack see only valid samples), any other
front-end runs on each utterance alone. The transformer runs on padded batches: there the
attention mask is exact (padded frames are set to zero before the convolutional positional
embedding, which sees zeros beyond the end of an unpadded utterance too, and attention never
attends to them). The front-end of an utterance is computed once and can feed several
transformer passes (model variants that differ only in the encoder, e.g. with FFN neurons
silenced by :func:`speechneurons.model.ffn.mask_ffn`).

data2vec-audio is the exception: its positional embedding stacks several convolutions, so the
second one sees values the first wrote into the padding. Its utterances are never padded
together (batches of one).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import NamedTuple

import numpy as np
import torch

#: model types whose transformer output depends on padding (see the module docstring)
PADDING_CHANGES_OUTPUT = frozenset({"data2vec-audio"})


class Batch(NamedTuple):
    """Front-end outputs of a few utterances, padded for the transformer."""

    index: list[int]
    """Positions of the utterances in the caller's list."""
    features: torch.Tensor
    """[B, T_max, C] front-end outputs (zero beyond each utterance's frames)."""
    mask: torch.Tensor
    """[B, T_max] bool: True on the utterance's own frames."""
    lengths: list[int]
    """Frames of each utterance."""


def front_end(loaded, wave: np.ndarray) -> torch.Tensor:
    """The front-end output [T, C] of one utterance alone (normalised first if the model
    expects it): the input of the feature projection."""
    from speechneurons.model.registry import normalize_wave

    wave = np.asarray(wave, dtype=np.float32)
    if loaded.do_normalize:
        wave = normalize_wave(wave)
    x = torch.from_numpy(np.ascontiguousarray(wave))[None].to(loaded.device)
    return loaded.model.feature_extractor(x)[0].transpose(0, 1)


def _masked_group_norm(h: torch.Tensor, norm: torch.nn.GroupNorm, lengths: Sequence[int]) -> torch.Tensor:
    """GroupNorm with one group per channel (HuBERT / wav2vec 2.0 base) over each row's first
    ``lengths[b]`` time steps only: the statistics a row would have alone."""
    out = torch.empty_like(h)
    for b, n in enumerate(lengths):
        out[b : b + 1, :, :n] = torch.nn.functional.group_norm(h[b : b + 1, :, :n], norm.num_groups, norm.weight,
                                                               norm.bias, norm.eps)  # fmt: skip
        out[b, :, n:] = 0.0
    return out


def conv_lengths(n_samples: int, conv_layers) -> list[int]:
    """Output length of every layer of a conv stack for an input of ``n_samples``."""
    out, n = [], int(n_samples)
    for layer in conv_layers:
        k, st = layer.conv.kernel_size[0], layer.conv.stride[0]
        n = max((n - k) // st + 1, 0)
        out.append(n)
    return out


def batchable_front_end(loaded) -> bool:
    """Whether the front-end can run on a padded batch with the results each utterance gives
    alone: a conv stack whose only normalisation over time is a per-channel GroupNorm (masked
    here) or a per-frame LayerNorm. Valid output frames of an unpadded conv stack see only valid
    samples, so the padding reaches nothing else."""
    fe = getattr(loaded.model, "feature_extractor", None)
    layers = getattr(fe, "conv_layers", None)
    if layers is None:
        return False
    for layer in layers:
        norm = getattr(layer, "layer_norm", None)
        if isinstance(norm, torch.nn.GroupNorm) and norm.num_groups != norm.num_channels:
            return False
    return True


def front_ends(loaded, waves: Sequence[np.ndarray]) -> list[torch.Tensor]:
    """:func:`front_end` of several utterances, in one padded pass when the front-end allows it
    (:func:`batchable_front_end`): the same numbers as one utterance at a time, faster on CPU."""
    if len(waves) == 1 or not batchable_front_end(loaded):
        return [front_end(loaded, w) for w in waves]
    layers = loaded.model.feature_extractor.conv_layers
    x, _ = loaded.prepare_batch(waves)
    lengths = [conv_lengths(len(w), layers) for w in waves]
    h = x[:, None]
    for i, layer in enumerate(layers):
        norm = getattr(layer, "layer_norm", None)
        if isinstance(norm, torch.nn.GroupNorm):
            h = layer.activation(_masked_group_norm(layer.conv(h), norm, [n[i] for n in lengths]))
        else:
            h = layer(h)
    return [h[b, :, : n[-1]].transpose(0, 1) for b, n in enumerate(lengths)]


def pad(index: Sequence[int], features: Sequence[torch.Tensor]) -> Batch:
    """Stack per-utterance front-end outputs [T_i, C] into a zero-padded batch with its mask."""
    lengths = [int(f.shape[0]) for f in features]
    out = features[0].new_zeros((len(features), max(lengths), features[0].shape[1]))
    mask = torch.zeros((len(features), max(lengths)), dtype=torch.bool, device=features[0].device)
    for i, f in enumerate(features):
        out[i, : lengths[i]] = f
        mask[i, : lengths[i]] = True
    return Batch(list(index), out, mask, lengths)


class Encoded(NamedTuple):
    """The transformer's output on a batch."""

    last_hidden_state: torch.Tensor
    """[B, T, H]: the model's output."""
    hidden_states: tuple[torch.Tensor, ...]
    """``hidden_states[L]`` [B, T, H] = output of layer L (0 = the input of layer 1), as a full
    forward pass with ``output_hidden_states=True`` returns them."""


class _Enough(Exception):
    """Raised by a hook of :func:`encode` once the last layer asked for has run."""


class SharedPasses:
    """What several transformer passes over the same :class:`Batch` have in common, kept by
    :func:`encode` for the passes after the first: the feature projection, the convolutional
    positional embedding (its input is the same in every pass: variants change encoder layers
    only) and, from a pass that changes nothing (``first_changed=None``), each layer's output,
    which a pass whose first changed layer is ``f`` reuses for layers 1..f-1 instead of running
    them. A reused value is the very tensor the first pass computed, so the results are those of
    running every pass in full. One instance per batch."""

    def __init__(self) -> None:
        self.projected: torch.Tensor | None = None
        self.position: torch.Tensor | None = None
        self.layers: dict[int, object] = {}


class _Returns(torch.nn.Module):
    """Stands in for a module whose output is known: returns it, runs nothing."""

    def __init__(self, value) -> None:
        super().__init__()
        self.value = value

    def forward(self, *args, **kwargs):
        return self.value


def encode(
    loaded,
    batch: Batch,
    upto: int | None = None,
    shared: SharedPasses | None = None,
    first_changed: int | None = 1,
) -> Encoded:
    """The transformer part of the model on a padded batch: feature projection, then the encoder
    with the frame mask. FFN hooks (capture, masks) see this pass.

    The hidden states are read with hooks on the encoder layers: the input of layer 1, the
    output of every layer, and for the last one the encoder's output (after the final layer
    norm of pre-LN models), which is what a full forward pass reports.

    ``upto`` (a layer number below the model's last): the pass stops after layer ``upto``, so
    ``hidden_states`` has ``upto + 1`` entries, each what the full pass gives, and
    ``last_hidden_state`` is the output of layer ``upto``. The layers above never run.

    ``shared`` (one :class:`SharedPasses` per batch, passed to every pass over it): the parts
    passes have in common run once. ``first_changed``: the lowest layer whose computation this
    pass changes (hooks, masks or edits on it); None = a pass that changes nothing, whose layer
    outputs are kept for the others. Only with ``shared``. Hooks inside a reused layer (an FFN
    capture) do not fire: the layer does not run.
    """
    from speechneurons.model.ffn import encoder_layers

    model = loaded.model
    layers = encoder_layers(model)
    if upto is not None and not 0 <= upto <= len(layers):
        raise ValueError(f"encode upto layer {upto}: the model has layers 1..{len(layers)}")
    stop = upto if upto is not None and upto < len(layers) else None
    states: list[torch.Tensor] = []

    def keep(state: torch.Tensor) -> None:
        states.append(state)
        if stop is not None and len(states) == stop + 1:
            raise _Enough

    def first_input(module, args, kwargs):
        keep(args[0] if args else kwargs["hidden_states"])

    def output(module, args, out):
        keep(out[0] if isinstance(out, tuple) else out)

    swapped: list[tuple[torch.nn.Module, str, torch.nn.Module]] = []
    handles = [] if shared is None else _share(model, layers, shared, first_changed, swapped)
    # after _share: the hooks go on the modules that run (a reused layer's stand-in included)
    handles += [layers[0].register_forward_pre_hook(first_input, with_kwargs=True)]
    handles += [layer.register_forward_hook(output) for layer in layers]
    try:
        if shared is not None and shared.projected is not None:
            hidden = shared.projected.clone()  # the encoder zeroes padded frames in place
        else:
            projected = model.feature_projection(batch.features)
            hidden = projected[0] if isinstance(projected, tuple) else projected  # wav2vec 2.0 returns a pair
            if shared is not None:
                shared.projected = hidden.clone()
        mask = None if bool(batch.mask.all()) else batch.mask
        out = model.encoder(hidden, attention_mask=mask)
    except _Enough:
        return Encoded(states[-1], tuple(states))
    finally:
        for h in handles:
            h.remove()
        for parent, name, module in reversed(swapped):
            setattr(parent, name, module)
    last = out[0] if isinstance(out, tuple) else out.last_hidden_state
    return Encoded(last, (*states[:-1], last))


def _share(model, layers, shared: SharedPasses, first_changed: int | None, swapped: list) -> list:
    """Set up one pass of :func:`encode` with ``shared``: modules whose output is known are
    swapped for :class:`_Returns` (recorded in ``swapped`` to put back), and hooks (returned)
    keep what later passes reuse."""
    handles = []
    encoder = model.encoder
    pos = getattr(encoder, "pos_conv_embed", None)
    if pos is not None:
        if shared.position is not None:
            swapped.append((encoder, "pos_conv_embed", pos))
            encoder.pos_conv_embed = _Returns(shared.position)
        else:

            def keep_position(module, args, out):
                shared.position = out

            handles.append(pos.register_forward_hook(keep_position))
    if first_changed is None:  # an unchanged pass: keep every layer's output
        for i, layer in enumerate(layers):
            if i in shared.layers:
                swapped.append((layers, str(i), layer))
                layers[i] = _Returns(shared.layers[i])
            else:

                def keep_layer(module, args, out, i=i):
                    shared.layers[i] = out

                handles.append(layer.register_forward_hook(keep_layer))
    else:
        for i in range(min(int(first_changed) - 1, len(layers))):
            if i not in shared.layers:
                break
            swapped.append((layers, str(i), layers[i]))
            layers[i] = _Returns(shared.layers[i])
    return handles


def batches(lengths: Sequence[int], max_frames: int, max_pad_ratio: float) -> list[list[int]]:
    """Utterances grouped for the transformer, longest first: a batch of longest length T_max
    takes the next (shorter) utterance of length T while (size + 1) * T_max <= max_frames and
    T_max <= max_pad_ratio * T. Every batch has at least one utterance; ``max_frames`` <= 0
    gives batches of one. Padding only costs time here: results do not depend on it."""
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current:
            longest = lengths[current[0]]
            if (len(current) + 1) * longest <= max_frames and longest <= max_pad_ratio * lengths[i]:
                current.append(i)
                continue
            out.append(current)
        current = [i]
    if current:
        out.append(current)
    return out


@torch.inference_mode()
def front_end_batches(
    loaded,
    waves: Sequence[np.ndarray],
    max_frames: int,
    max_pad_ratio: float = 1.5,
    num_samples: Sequence[int] | None = None,
) -> Iterator[Batch]:
    """The utterances' front-end outputs (each computed alone), in padded batches for
    :func:`encode` (batches of one for the models of PADDING_CHANGES_OUTPUT). ``waves`` may load
    lazily: with ``num_samples`` given, a wave is read only when its batch is formed.
    Utterances shorter than one frame are never passed here."""
    if loaded.model_type in PADDING_CHANGES_OUTPUT:
        max_frames = 0
    num_samples = num_samples if num_samples is not None else [len(w) for w in waves]
    lengths = [loaded.num_frames(int(n)) for n in num_samples]
    for group in batches(lengths, max_frames, max_pad_ratio):
        yield pad(group, front_ends(loaded, [waves[i] for i in group]))
