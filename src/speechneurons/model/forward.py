"""Forward passes whose results do not depend on how utterances are batched.

Zero-padding a batch changes the output of a front-end whose first conv layer is
group-normalised (HuBERT and wav2vec 2.0 base, the tiny HuBERT): the normalisation statistics
run over the padding, and the attention mask never reaches them. So the front-end (the conv
feature encoder, or a log-Mel front-end) runs on each utterance alone, unpadded, and only the
transformer runs on padded batches: there the attention mask is exact (padded frames are set
to zero before the convolutional positional embedding, which sees zeros beyond the end of an
unpadded utterance too, and attention never attends to them). The front-end of an utterance is
computed once and can feed several transformer passes (model variants that differ only in the
encoder, e.g. with FFN neurons silenced by :func:`speechneurons.model.ffn.mask_ffn`).

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


def encode(loaded, batch: Batch) -> Encoded:
    """The transformer part of the model on a padded batch: feature projection, then the encoder
    with the frame mask. FFN hooks (capture, masks) see this pass.

    The hidden states are read with hooks on the encoder layers: the input of layer 1, the
    output of every layer, and for the last one the encoder's output (after the final layer
    norm of pre-LN models), which is what a full forward pass reports.
    """
    from speechneurons.model.ffn import encoder_layers

    model = loaded.model
    layers = encoder_layers(model)
    states: list[torch.Tensor] = []

    def first_input(module, args, kwargs):
        states.append(args[0] if args else kwargs["hidden_states"])

    def output(module, args, out):
        states.append(out[0] if isinstance(out, tuple) else out)

    handles = [layers[0].register_forward_pre_hook(first_input, with_kwargs=True)]
    handles += [layer.register_forward_hook(output) for layer in layers]
    try:
        projected = model.feature_projection(batch.features)
        hidden = projected[0] if isinstance(projected, tuple) else projected  # wav2vec 2.0 returns a pair
        mask = None if bool(batch.mask.all()) else batch.mask
        out = model.encoder(hidden, attention_mask=mask)
    finally:
        for h in handles:
            h.remove()
    last = out[0] if isinstance(out, tuple) else out.last_hidden_state
    return Encoded(last, (*states[:-1], last))


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
        yield pad(group, [front_end(loaded, waves[i]) for i in group])
