"""MelHuBERT-style model: a HuBERT transformer on log-Mel frames instead of a waveform CNN.

MelHuBERT (Lin et al., arXiv 2211.09944) feeds log-Mel filterbank frames to the HuBERT
transformer and trains it with HuBERT's masked prediction; without the waveform conv stack a
step costs far less. Here the front-end is computed inside ``forward`` from the raw 16 kHz
waveform with torch ops, so the model takes the same input as every other model of the
workflow and everything after the front-end is the stock ``transformers`` HuBERT code (feature
projection LayerNorm + Linear, ``masked_spec_embed`` masking, positional conv, encoder layers
and their FFN sites, pruning, ``save_pretrained``).

Front-end (:class:`LogMelFrontEnd`), for a wave x of N samples and S = ``mel_stack``:
- frame t covers samples [t * hop, t * hop + window) with window = ``conv_kernel[0]`` (400 =
  25 ms) and hop = ``conv_stride[0]`` (320 = 20 ms), no centre padding, so there are
  floor((N - window) / hop) + 1 frames: the frame count of the base conv stack;
- the frame is cut into S sub-windows of length window - (S - 1) * hop / S starting every
  hop / S samples (S = 1: the frame itself; S = 2: two 15 ms windows 10 ms apart, which span
  exactly the 25 ms frame), each Hann-windowed and zero-padded to the next power of two;
- per sub-window: power spectrum, ``n_mels`` triangular HTK-Mel filters between ``mel_fmin``
  and ``mel_fmax``, natural log with a floor: log(max(mel, ``mel_floor``));
- the S vectors are concatenated: the output is [B, S * n_mels, T].
Each frame's features depend on its own samples only (no utterance statistics, no padding
across frames), so zero-padding a batch never changes a real frame. The feature projection's
LayerNorm over the S * n_mels values of a frame removes the input gain (a gain g adds 2 log g
to every log-Mel value), so the waveform needs no normalisation.

The config keeps a one-layer "conv stack" (kernel = window, stride = hop, conv_dim = S * n_mels)
so that transformers' frame-count code and the workflow's :class:`~speechneurons.frames.FrameGrid`
(receptive field 400, hop 320) see the true frame geometry.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch
from huggingface_hub.dataclasses import strict
from torch import nn
from transformers import AutoConfig, AutoModel, HubertConfig, HubertModel


@strict
class MelHubertConfig(HubertConfig):
    """HubertConfig of a log-Mel front-end (see the module docstring); ``conv_dim`` is derived."""

    model_type = "melhubert"
    conv_dim: list[int] | tuple[int, ...] = (80,)
    conv_stride: list[int] | tuple[int, ...] = (320,)
    conv_kernel: list[int] | tuple[int, ...] = (400,)
    n_mels: int = 80
    mel_stack: int = 1
    sampling_rate: int = 16000
    mel_fmin: float | int = 0.0
    mel_fmax: float | int | None = None
    mel_floor: float = 1e-8

    def __post_init__(self, **kwargs):
        if len(self.conv_kernel) != 1 or len(self.conv_stride) != 1:
            raise ValueError(
                f"a log-Mel front-end has one window and one hop, got kernel {self.conv_kernel} "
                f"and stride {self.conv_stride}"
            )
        window, hop, stack = int(self.conv_kernel[0]), int(self.conv_stride[0]), int(self.mel_stack)
        if stack < 1 or hop % stack or window - (stack - 1) * (hop // stack) < 2:
            raise ValueError(f"mel_stack {stack} must divide the hop {hop} and leave sub-windows of >= 2 samples")
        self.conv_dim = (int(self.n_mels) * stack,)
        super().__post_init__(**kwargs)


@functools.lru_cache(maxsize=16)
def mel_filterbank(n_fft: int, n_mels: int, sample_rate: int, fmin: float, fmax: float) -> np.ndarray:
    """Triangular filters [n_fft // 2 + 1, n_mels] on the HTK Mel scale, mel = 2595 log10(1 + f / 700):
    filter m rises from edge m to edge m + 1 and falls to edge m + 2 of n_mels + 2 equally spaced
    Mel edges between fmin and fmax, evaluated at the FFT bin frequencies k * sr / n_fft (peak 1)."""

    def to_mel(f):
        return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    edges = 700.0 * (10.0 ** (np.linspace(to_mel(fmin), to_mel(fmax), n_mels + 2) / 2595.0) - 1.0)
    freqs = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rise = (freqs[None, :] - lo) / (mid - lo)
    fall = (hi - freqs[None, :]) / (hi - mid)
    return np.clip(np.minimum(rise, fall), 0.0, None).T.copy()


class LogMelFrontEnd(nn.Module):
    """Raw waveform [B, N] -> log-Mel frames [B, mel_stack * n_mels, T] (no parameters)."""

    def __init__(self, config: MelHubertConfig):
        super().__init__()
        self.window = int(config.conv_kernel[0])
        self.hop = int(config.conv_stride[0])
        self.stack = int(config.mel_stack)
        self.sub_hop = self.hop // self.stack
        self.sub_window = self.window - (self.stack - 1) * self.sub_hop
        self.n_fft = 1 << math.ceil(math.log2(self.sub_window))
        self.n_mels = int(config.n_mels)
        fmax = config.mel_fmax if config.mel_fmax is not None else config.sampling_rate / 2
        self.fbank = (self.n_fft, self.n_mels, int(config.sampling_rate), float(config.mel_fmin), float(fmax))
        self.floor = float(config.mel_floor)
        self._constants: dict = {}

    def num_frames(self, num_samples: int) -> int:
        """floor((N - window) / hop) + 1, or 0 when N < window."""
        return (num_samples - self.window) // self.hop + 1 if num_samples >= self.window else 0

    def _window_and_filters(self, device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
        key = (str(device), dtype)
        if key not in self._constants:
            window = torch.hann_window(self.sub_window, periodic=False, dtype=torch.float64)
            filters = torch.from_numpy(mel_filterbank(*self.fbank))
            self._constants[key] = (window.to(device, dtype), filters.to(device, dtype))
        return self._constants[key]

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        if input_values.dim() != 2:
            raise ValueError(f"expected a batch of waves [B, N], got shape {tuple(input_values.shape)}")
        batch, n = input_values.shape
        frames = self.num_frames(n)
        if frames < 1:
            raise ValueError(f"input of {n} samples is shorter than one frame ({self.window} samples)")
        window, filters = self._window_and_filters(input_values.device, input_values.dtype)
        sub = input_values.unfold(-1, self.sub_window, self.sub_hop)[:, : frames * self.stack]
        spec = torch.fft.rfft(sub * window, n=self.n_fft)
        power = spec.real.square() + spec.imag.square()
        logmel = torch.log(torch.clamp(power @ filters, min=self.floor))
        return logmel.reshape(batch, frames, self.stack * self.n_mels).transpose(1, 2)

    def _freeze_parameters(self) -> None:
        """Nothing to freeze (HubertModel.freeze_feature_encoder calls this)."""


class MelHubertModel(HubertModel):
    """A transformers HubertModel whose ``feature_extractor`` is :class:`LogMelFrontEnd`."""

    config_class = MelHubertConfig
    config: MelHubertConfig

    def __init__(self, config: MelHubertConfig):
        super().__init__(config)
        self.feature_extractor = LogMelFrontEnd(config)


def register() -> None:
    """Make ``AutoConfig`` / ``AutoModel`` (and so ``from_pretrained`` of a saved folder) know
    model_type 'melhubert'. Idempotent."""
    AutoConfig.register(MelHubertConfig.model_type, MelHubertConfig, exist_ok=True)
    AutoModel.register(MelHubertConfig, MelHubertModel, exist_ok=True)


register()
