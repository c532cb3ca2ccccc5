"""Runs, checkpoints and equal compute (no torch import, so the Snakefile can plan with it).

A *run* of the factor study is a pretrained model of the config: ``model`` or an entry of
``compare.models`` whose ``pretrain`` overrides change one pretraining factor (clustering
height = the ``layer`` of a later iteration's targets, ``n_clusters``, the iteration schedule,
``unmasked_weight``). Its checkpoints are named by their global step (steps counted over all
iterations, :mod:`speechneurons.model.schedule`), so two runs are at equal compute at equal
steps when their batches are the same size.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from speechneurons.model.schedule import checkpoint_iteration, checkpoint_names, checkpoint_step, iteration_settings


def checkpoint_steps(pretrain: Mapping) -> dict[str, tuple[int, int]]:
    """Checkpoint name -> (iteration, global step) of every checkpoint a pretrain section
    saves, in pretraining order; ``final`` is the last iteration's end."""
    out = {}
    for name in checkpoint_names(pretrain):
        step = total_steps(pretrain) if name == "final" else checkpoint_step(name)
        out[name] = (checkpoint_iteration(pretrain, name), step)
    return out


def distinct_checkpoints(pretrain: Mapping) -> list[str]:
    """The checkpoints of a pretrain section with distinct weights, in pretraining order: a
    ``step-<N>`` saved at the last step is the ``final`` model again and is left out."""
    steps = checkpoint_steps(pretrain)
    return [name for name, (_, step) in steps.items() if name == "final" or step != steps["final"][1]]


def analysed(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    """The requested checkpoints that a model has, in the model's order (all when none requested)."""
    if not requested:
        return list(available)
    wanted = set(requested)
    return [c for c in available if c in wanted]


def describe_schedule(pretrain: Mapping) -> str:
    """The iteration schedule in one line: ``steps:targets/K`` per iteration joined by ``+``;
    targets ``mfcc`` or ``L<layer>`` (k-means of that layer of the previous iteration's model),
    ``r`` when the iteration resumes from the previous model. E.g. ``200:mfcc/K100+400:L4/K100r``."""
    parts = []
    for it in iteration_settings(pretrain):
        target = "mfcc" if it.targets == "mfcc" else f"L{it.layer}"
        parts.append(f"{it.steps}:{target}/K{it.n_clusters}{'r' if it.init == 'resume' else ''}")
    return "+".join(parts)


#: pretrain keys that do not change what is learned (when checkpoints are saved, logging, scoring)
NOT_FACTORS = frozenset({"checkpoint_steps", "log_every", "heldout_utterances"})


def factor_label(pretrain: Mapping, baseline: Mapping) -> str:
    """What a run changes with respect to the baseline's pretrain section: ``key=value`` for
    every differing key but :data:`NOT_FACTORS` (the schedule in :func:`describe_schedule`
    form), or ``baseline``."""
    diffs = []
    for key in sorted(set(pretrain) | set(baseline)):
        if key in NOT_FACTORS or pretrain.get(key) == baseline.get(key):
            continue
        value = describe_schedule(pretrain) if key == "iterations" else pretrain.get(key)
        diffs.append(f"{'schedule' if key == 'iterations' else key}={value}")
    return ", ".join(diffs) or "baseline"


def total_steps(pretrain: Mapping) -> int:
    """Optimiser steps over all iterations."""
    return sum(it.steps for it in iteration_settings(pretrain))


def common_steps(steps_by_run: Mapping[str, Sequence[int]]) -> list[int]:
    """The global steps every run saved a checkpoint at (equal compute), ascending."""
    sets = [{int(s) for s in v} for v in steps_by_run.values()]
    return sorted(set.intersection(*sets)) if sets else []


def checkpoint_order(names: Sequence[str]) -> list[str]:
    """Checkpoints in pretraining order: 'random' (fresh weights), step-N by N, then 'final',
    then anything else by name."""

    def key(name: str):
        step = checkpoint_step(name)
        if step is not None:
            return (1, step, name)
        return ({"random": 0, "final": 2}.get(name, 3), 0, name)

    return sorted(dict.fromkeys(names), key=key)
