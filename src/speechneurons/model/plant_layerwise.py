"""The layer-wise planted model and its null twin (docs/positive-controls.md): the top layers of
a model trained to turn back toward the input.

Pasad et al. and Vielzeuf 2024 say that the top layers of a speech SSL transformer move back
toward its input (the log-Mel PWCCA falls with depth and rises again at the top) and that phone
information peaks in an inner layer. Neither is true of the default tiny HuBERT. This module
makes a model of which both are true by construction, from the final model of a base:

- signal ``layerwise``: the top ``top_layers`` transformer layers (and, for a pre-LN encoder, its
  final layer norm, which sits after them) are trained so that the last hidden state
  (``hidden_states[L]``, what the layer-wise analysis measures) reconstructs ``hidden_states[0]``,
  the input of layer 1 (the projected front-end features: the layer closest to the log-Mel
  frames). The layers below are frozen, so layers 0 .. L - top_layers keep their
  representations, and with them the inner phone peak; the top carries the input again, so its
  log-Mel PWCCA rises and its phone PWCCA falls;
- signal ``layerwise_null`` (the null twin): the same layers, steps, learning rate and
  utterances, trained so that the last hidden state reproduces the input of the trained block,
  ``hidden_states[L - top_layers]``: nothing turns back toward the input.

The loss is 1 minus the correlation over frames of each dimension of the last hidden state with
the same dimension of the target, averaged over dimensions (0 for a copy up to a scale and an
offset per dimension, which PWCCA does not see either), minimised with Adam
for ``steps`` steps of ``batch_utterances`` utterances drawn at random (seeded) from the
training utterances, in eval mode (no dropout): the result is a function of the seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

LAYERWISE_SIGNALS = ("layerwise", "layerwise_null")


@dataclass(frozen=True)
class LayerwiseSettings:
    """Keys of a planted model's ``layerwise`` section (schemas/planted.schema.yaml)."""

    top_layers: int
    steps: int
    learning_rate: float
    batch_utterances: int


def target_layer(signal: str, num_layers: int, top_layers: int) -> int:
    """The hidden state the last one is trained to reconstruct: 0 (the input of layer 1) for the
    planted signal, the input of the trained block for the null twin."""
    if signal not in LAYERWISE_SIGNALS:
        raise ValueError(f"layer-wise planted signal must be one of {LAYERWISE_SIGNALS}, got {signal!r}")
    if not 1 <= top_layers < num_layers:
        raise ValueError(
            f"planted.layerwise.top_layers {top_layers}: train 1 to {num_layers - 1} top layers of a model with "
            f"{num_layers} layers (at least one must stay frozen below them)"
        )
    return 0 if signal == "layerwise" else num_layers - top_layers


def trained_parameters(model, top_layers: int) -> list[torch.nn.Parameter]:
    """The parameters of the top ``top_layers`` encoder layers, and of the encoder's final layer
    norm when it is applied after them (pre-LN encoders: ``do_stable_layer_norm``)."""
    from speechneurons.model.ffn import encoder_layers

    layers = encoder_layers(model)
    params = [p for layer in list(layers)[len(layers) - top_layers :] for p in layer.parameters()]
    base = getattr(model, "base_model", model)
    norm = getattr(base.encoder, "layer_norm", None)
    if norm is not None and getattr(base.config, "do_stable_layer_norm", False):
        params += list(norm.parameters())
    return params


def _standard(x: torch.Tensor) -> torch.Tensor:
    """Each dimension standardised over the frames (rows)."""
    x = x - x.mean(dim=0, keepdim=True)
    return x / x.pow(2).mean(dim=0, keepdim=True).sqrt().clamp_min(1e-6)


def mean_correlation(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Pearson correlation over frames of each dimension of ``out`` [n, H] with the same
    dimension of ``target``, averaged over dimensions (1 = a copy up to scale and offset)."""
    return (_standard(out) * _standard(target)).mean()


def reconstruction(loaded, features: Sequence[torch.Tensor], target: int) -> float:
    """:func:`mean_correlation` of the last hidden state with ``hidden_states[target]`` over the
    frames of every utterance (front-end outputs ``features``, one at a time)."""
    from speechneurons.model.forward import encode, pad

    outs, targets = [], []
    with torch.inference_mode():
        for f in features:
            states = encode(loaded, pad([0], [f])).hidden_states
            outs.append(states[-1][0])
            targets.append(states[target][0])
    return float(mean_correlation(torch.cat(outs), torch.cat(targets)))


def _top_block(model, top_layers: int):
    """The function hidden_states[L - top_layers] [T, H] -> hidden_states[L] [T, H] of one
    unpadded utterance: the top layers, then a pre-LN encoder's final layer norm (what
    :func:`speechneurons.model.forward.encode` reports as the last hidden state)."""
    from speechneurons.model.ffn import encoder_layers

    layers = list(encoder_layers(model))[-top_layers:]
    base = getattr(model, "base_model", model)
    norm = base.encoder.layer_norm if getattr(base.config, "do_stable_layer_norm", False) else None

    def run(x: torch.Tensor) -> torch.Tensor:
        h = x.unsqueeze(0)
        for layer in layers:
            out = layer(h, attention_mask=None)
            h = out[0] if isinstance(out, tuple) else out
        return (norm(h) if norm is not None else h)[0]

    return run


def plant_layerwise_(loaded, waves: Sequence[np.ndarray], signal: str, settings: LayerwiseSettings, seed: int) -> dict:
    """Train the top layers of ``loaded.model`` (in place) on the utterances ``waves`` (module
    docstring). The layers below are frozen, so their outputs (the block's input and the target)
    are computed once per utterance; a step runs the trained block on ``batch_utterances``
    utterances, one at a time (no padding). Returns what was done: the trained layers, the
    target layer, and the last hidden state's :func:`mean_correlation` with the target before
    and after (from full forward passes)."""
    from speechneurons.model.ffn import encoder_layers
    from speechneurons.model.forward import encode, front_end, pad

    if not len(waves):
        raise ValueError("no utterance to train the layer-wise planted model on")
    if settings.steps < 0 or settings.batch_utterances < 1 or not settings.learning_rate > 0:
        raise ValueError(f"planted.layerwise: steps >= 0, batch_utterances >= 1, learning_rate > 0; got {settings}")
    model = loaded.model
    num_layers = len(encoder_layers(model))
    target = target_layer(signal, num_layers, settings.top_layers)
    below = num_layers - settings.top_layers
    was_training = model.training
    model.eval()  # no dropout: the steps are a function of the seed
    inputs, targets = [], []
    with torch.no_grad():
        features = [front_end(loaded, np.asarray(w, dtype=np.float32)) for w in waves]
        for f in features:
            states = encode(loaded, pad([0], [f]), upto=below).hidden_states
            inputs.append(states[below][0].clone())
            targets.append(states[target][0].clone())
    before = reconstruction(loaded, features, target)

    params = trained_parameters(model, settings.top_layers)
    trained = {id(p) for p in params}
    frozen = [p for p in model.parameters() if id(p) not in trained]
    flags = [p.requires_grad for p in frozen]
    block = _top_block(model, settings.top_layers)
    torch.manual_seed(int(seed))
    rng = np.random.default_rng([int(seed), 17])
    optimiser = torch.optim.Adam(params, lr=settings.learning_rate)
    losses = []
    try:
        for p in frozen:
            p.requires_grad_(False)
        for p in params:
            p.requires_grad_(True)
        size = min(settings.batch_utterances, len(inputs))
        for _ in range(settings.steps):
            pick = rng.choice(len(inputs), size, replace=False)
            out = torch.cat([block(inputs[i]) for i in pick])
            loss = 1 - mean_correlation(out, torch.cat([targets[i] for i in pick]))
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        after = reconstruction(loaded, features, target)
    finally:
        for p, flag in zip(frozen, flags, strict=True):
            p.requires_grad_(flag)
        model.train(was_training)
    return {
        "signal": signal,
        "trained_layers": list(range(below + 1, num_layers + 1)),
        "target_layer": target,
        "utterances": len(features),
        "steps": settings.steps,
        "correlation_before": before,
        "correlation_after": after,
        "last_losses": losses[-10:],
    }
