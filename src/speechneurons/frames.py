"""The model frame grid: how many frames an audio length gives, and where they lie.

A wav2vec 2.0 / HuBERT / WavLM convolutional feature encoder maps L samples through layers
of kernel k_i and stride s_i: L <- floor((L - k_i) / s_i) + 1. For the base models
(k = 10,3,3,3,3,2,2; s = 5,2,2,2,2,2,2) the hop is 320 samples (20 ms at 16 kHz) and the
receptive field 400 samples (25 ms), so frame t covers [t * 0.02, t * 0.02 + 0.025) s.
The counts always come from the conv stack, never from a table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

BASE_CONV_KERNEL = (10, 3, 3, 3, 3, 2, 2)
BASE_CONV_STRIDE = (5, 2, 2, 2, 2, 2, 2)


@dataclass(frozen=True)
class FrameGrid:
    """Frame geometry of a conv stack at a sample rate."""

    conv_kernel: tuple[int, ...] = BASE_CONV_KERNEL
    conv_stride: tuple[int, ...] = BASE_CONV_STRIDE
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        if len(self.conv_kernel) != len(self.conv_stride):
            raise ValueError("conv_kernel and conv_stride must have the same length")

    @classmethod
    def from_config(cls, cfg: dict) -> FrameGrid:
        """From the ``frames`` section of the workflow config."""
        return cls(tuple(cfg["conv_kernel"]), tuple(cfg["conv_stride"]), int(cfg["sample_rate"]))

    @property
    def hop(self) -> int:
        """Samples between consecutive frames: the product of the strides."""
        return int(np.prod(self.conv_stride))

    @property
    def receptive_field(self) -> int:
        """Samples seen by one frame: r <- r + (k_i - 1) * prod(s_1..s_{i-1})."""
        r, jump = 1, 1
        for k, s in zip(self.conv_kernel, self.conv_stride):
            r += (k - 1) * jump
            jump *= s
        return r

    @property
    def frame_shift_s(self) -> float:
        return self.hop / self.sample_rate

    @property
    def frame_length_s(self) -> float:
        return self.receptive_field / self.sample_rate

    def num_frames(self, num_samples: int) -> int:
        """Frames for ``num_samples`` samples (0 when the audio is shorter than one frame)."""
        return num_frames(num_samples, self.conv_kernel, self.conv_stride)

    def same_frames_as(self, other: FrameGrid) -> bool:
        """Whether both grids put the frames at the same samples: same receptive field, hop and
        sample rate. For unpadded conv stacks that fixes the frame count of every length,
        floor((N - receptive_field) / hop) + 1, whatever the kernels and strides that give it
        (e.g. a one-layer log-Mel front-end with window 400 and hop 320 = the base stack)."""
        return (self.receptive_field, self.hop, self.sample_rate) == (
            other.receptive_field,
            other.hop,
            other.sample_rate,
        )

    def frame_starts(self, n_frames: int) -> np.ndarray:
        """Start time (s) of each frame: t * hop / sr."""
        return np.arange(n_frames) * self.frame_shift_s

    def frame_centres(self, n_frames: int) -> np.ndarray:
        """Centre time (s) of each frame: (t * hop + receptive_field / 2) / sr."""
        return (np.arange(n_frames) * self.hop + self.receptive_field / 2) / self.sample_rate


def num_frames(num_samples: int, conv_kernel: Sequence[int], conv_stride: Sequence[int]) -> int:
    """Output length of a stack of unpadded 1-D convolutions: L <- floor((L - k) / s) + 1."""
    length = int(num_samples)
    for k, s in zip(conv_kernel, conv_stride):
        if length < k:
            return 0
        length = (length - k) // s + 1
    return length
