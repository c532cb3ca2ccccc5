"""The pretraining schedule: iterations and the checkpoints they save (no torch import, so the
Snakefile can plan with it)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from speechneurons.config import settings_from


def checkpoint_name(step: int) -> str:
    """The name of the checkpoint saved at global step ``step``: ``step-<N>`` (every path, table
    and config that names a checkpoint uses this form; ``final`` and ``random`` are the others)."""
    return f"step-{int(step)}"


def checkpoint_step(name: str) -> int | None:
    """The global step of a ``step-<N>`` checkpoint name, None for any other name (``final``,
    ``random``)."""
    prefix, sep, digits = name.partition("-")
    return int(digits) if prefix == "step" and sep and digits.isdigit() else None


@dataclass(frozen=True)
class IterationSettings:
    """One item of ``pretrain.iterations``."""

    steps: int
    targets: str
    layer: int
    n_clusters: int
    init: str


def iteration_settings(section: Mapping) -> list[IterationSettings]:
    """The pretraining iterations of a ``pretrain`` config section, in order (iteration 1 first)."""
    return [settings_from(IterationSettings, item) for item in section["iterations"]]


def checkpoint_schedule(
    iterations: Sequence[IterationSettings], checkpoint_steps: Sequence[int]
) -> list[list[tuple[int, int]]]:
    """Per iteration, the checkpoints it saves as (local step, global step) pairs.

    Steps count over all iterations one after the other: iteration i starts at
    S_i = steps_1 + ... + steps_{i-1}, so its local step s is global step S_i + s. Local step 0
    (the untrained model) is saved for iteration 1 only: for a later iteration it would be the
    previous iteration's final model again.
    """
    out, start = [], 0
    for i, it in enumerate(iterations):
        local = sorted({int(s) for s in checkpoint_steps if (s > 0 or i == 0) and s <= it.steps})
        out.append([(s, start + s) for s in local])
        start += it.steps
    return out


def checkpoint_names(section: Mapping) -> list[str]:
    """Names of every saved checkpoint of a ``pretrain`` config section: ``step-<N>`` (global
    steps, in order) and ``final``."""
    schedule = checkpoint_schedule(iteration_settings(section), section["checkpoint_steps"])
    return [checkpoint_name(g) for steps in schedule for _, g in steps] + ["final"]


def checkpoint_iteration(section: Mapping, checkpoint: str) -> int:
    """The iteration (1-based) that saves checkpoint ``step-<N>``, or the last one for ``final``."""
    iterations = iteration_settings(section)
    if checkpoint == "final":
        return len(iterations)
    step = checkpoint_step(checkpoint)
    for i, steps in enumerate(checkpoint_schedule(iterations, section["checkpoint_steps"]), start=1):
        if any(g == step for _, g in steps):
            return i
    raise ValueError(
        f"checkpoint {checkpoint!r} is not saved: pretrain.checkpoint_steps gives {checkpoint_names(section)}"
    )
