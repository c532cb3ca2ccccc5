"""Structured FFN pruning that may protect property neurons.

Every FFN layer is a pair fc1 (H -> D, weight W1 [D, H], bias b1 [D]) and fc2 (D -> H,
weight W2 [H, D]). Removing neuron j deletes row j of W1, entry j of b1 and column j of W2;
the model is then really smaller (see :func:`speechneurons.ffn.prune_ffn_`).

Score (lowest first):   s_j = ||W1[j, :]||_1 + |b1[j]| + ||W2[:, j]||_1

Budget per layer: k = round(sparsity * D) neurons, at most D - 1 (a layer keeps a neuron).

Strategies, all choosing exactly k neurons of each layer:
- ``norm``: the k lowest scores (ties broken by index);
- ``protect``: the layer's property neurons P (union over phone type, gender, pitch) are
  removed from the candidates first, and the k lowest-scoring unprotected neurons go. When
  k exceeds the D - |P| unprotected neurons, all of those go and the remaining
  k - (D - |P|) are taken from P, lowest score first (protected neurons are pruned last);
  the number of protected neurons pruned is recorded;
- ``random``: a seeded permutation of the layer's neurons, first k (seeded by (seed, layer),
  so the random sets are nested across sparsities).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from speechneurons.experiments.variants import KEEP_STRATEGIES, STRATEGIES
from speechneurons.probing.probes import add_roles, select_layers
from speechneurons.probing.scoring import compare

if TYPE_CHECKING:  # torch is imported where a model is pruned: the pruning table needs no torch
    import torch

log = logging.getLogger(__name__)


def neuron_scores(fc1: torch.nn.Linear, fc2: torch.nn.Linear) -> torch.Tensor:
    """s_j = ||W1[j,:]||_1 + |b1[j]| + ||W2[:,j]||_1 for every neuron j (float64, shape [D])."""
    w1 = fc1.weight.detach().double()
    w2 = fc2.weight.detach().double()
    if w1.shape[0] != w2.shape[1]:
        raise ValueError(f"fc1 has {w1.shape[0]} outputs but fc2 has {w2.shape[1]} inputs")
    score = w1.abs().sum(dim=1) + w2.abs().sum(dim=0)
    if fc1.bias is not None:
        score = score + fc1.bias.detach().double().abs()
    return score.cpu()


def prune_count(width: int, sparsity: float) -> int:
    """Neurons removed from a layer of ``width`` neurons: round(sparsity * D), at most D - 1."""
    if not 0 <= sparsity < 1:
        raise ValueError(f"sparsity must be in [0, 1), got {sparsity}")
    return int(min(width - 1, np.floor(sparsity * width + 0.5)))


@dataclass(frozen=True)
class LayerChoice:
    """The neurons pruned from one layer (sorted 0-based indices) and protection counts."""

    layer: int
    width: int
    pruned: np.ndarray
    n_protected: int
    n_protected_pruned: int

    @property
    def keep(self) -> np.ndarray:
        """The kept neurons, ascending."""
        mask = np.ones(self.width, dtype=bool)
        mask[self.pruned] = False
        return np.flatnonzero(mask)


def _ascending(scores: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """``candidates`` ordered by score, ties by index (stable)."""
    candidates = np.sort(candidates)
    return candidates[np.argsort(scores[candidates], kind="stable")]


def choose_pruned(
    scores: np.ndarray | torch.Tensor,
    n_prune: int,
    strategy: str,
    protected: Iterable[int] = (),
    seed: int = 0,
    layer: int = 0,
) -> LayerChoice:
    """Choose ``n_prune`` neurons of one layer with ``strategy`` (see the module docstring)."""
    scores = np.asarray(scores, dtype=np.float64)
    width = len(scores)
    if not 0 <= n_prune < width:
        raise ValueError(f"cannot prune {n_prune} of {width} neurons")
    prot = np.zeros(width, dtype=bool)
    idx = np.asarray(sorted({int(j) for j in protected}), dtype=np.int64)
    if len(idx) and (idx.min() < 0 or idx.max() >= width):
        raise ValueError(f"protected neuron index out of range [0, {width}) in layer {layer}")
    prot[idx] = True
    everyone = np.arange(width)
    if strategy == "norm":
        order = _ascending(scores, everyone)
    elif strategy == "protect":
        order = np.concatenate([_ascending(scores, everyone[~prot]), _ascending(scores, everyone[prot])])
    elif strategy == "random":
        order = np.random.default_rng([int(seed), int(layer)]).permutation(width)
    else:
        raise ValueError(f"unknown pruning strategy {strategy!r}; use one of {STRATEGIES}")
    pruned = np.sort(order[:n_prune])
    return LayerChoice(layer, width, pruned, int(prot.sum()), int(prot[pruned].sum()))


def plan_pruning(
    layers: Mapping[int, tuple[torch.nn.Linear, torch.nn.Linear]],
    strategy: str,
    sparsity: float,
    protected: Mapping[int, Iterable[int]] | None = None,
    seed: int = 0,
) -> dict[int, LayerChoice]:
    """Per layer (1-based) the neurons to prune; ``layers`` maps layer -> (fc1, fc2)."""
    protected = protected or {}
    plan = {}
    for layer, (fc1, fc2) in sorted(layers.items()):
        scores = neuron_scores(fc1, fc2).numpy()
        k = prune_count(len(scores), sparsity)
        plan[layer] = choose_pruned(scores, k, strategy, protected.get(layer, ()), seed, layer)
    return plan


def plan_keep(
    layers: Mapping[int, tuple[torch.nn.Linear, torch.nn.Linear]],
    keep: Mapping[int, Iterable[int]],
    by_norm: bool = False,
    protected: Mapping[int, Iterable[int]] | None = None,
) -> dict[int, LayerChoice]:
    """Per layer, prune every neuron but ``keep[layer]`` (``by_norm``: but the |keep[layer]|
    highest-scoring neurons instead, ties by index). A layer keeps at least its highest-scoring
    neuron. ``protected`` (the property neurons) is only counted, as in :func:`plan_pruning`."""
    plan = {}
    for layer, (fc1, fc2) in sorted(layers.items()):
        scores = neuron_scores(fc1, fc2).numpy()
        width = len(scores)
        kept = np.asarray(sorted({int(j) for j in keep.get(layer, ())}), dtype=np.int64)
        if by_norm:
            kept = np.sort(_ascending(scores, np.arange(width))[::-1][: len(kept)])
        if len(kept) == 0:
            kept = np.array([int(np.argmax(scores))])
        pruned = np.setdiff1d(np.arange(width), kept)
        prot = np.zeros(width, dtype=bool)
        prot[np.asarray(list((protected or {}).get(layer, ())), dtype=np.int64)] = True
        plan[layer] = LayerChoice(layer, width, pruned, int(prot.sum()), int(prot[pruned].sum()))
    return plan


def plan_table(plan: Mapping[int, LayerChoice], strategy: str, sparsity: float | None) -> pd.DataFrame:
    """One row per layer: width, pruned, kept, protected, protected pruned."""
    rows = [
        {
            "strategy": strategy,
            "sparsity": np.nan if sparsity is None else sparsity,
            "layer": c.layer,
            "width": c.width,
            "n_pruned": len(c.pruned),
            "n_kept": c.width - len(c.pruned),
            "n_protected": c.n_protected,
            "n_protected_pruned": c.n_protected_pruned,
        }
        for c in plan.values()
    ]
    return pd.DataFrame(rows)


def ffn_pairs(model) -> dict[int, tuple[torch.nn.Linear, torch.nn.Linear]]:
    """layer (1-based) -> (fc1, fc2) of a model, found by :func:`speechneurons.ffn.ffn_sites`."""
    from speechneurons.model.ffn import ffn_sites

    return {int(site.layer): (site.fc1, site.fc2) for site in ffn_sites(model)}


def prune_model_(model, plan: Mapping[int, LayerChoice]) -> None:
    """Structurally delete the planned neurons (in place) through ``ffn.prune_ffn_``."""
    import torch

    from speechneurons.model.ffn import prune_ffn_

    keep = {layer: torch.as_tensor(c.keep, dtype=torch.long) for layer, c in plan.items()}
    prune_ffn_(model, keep)


def norm_counterpart(strategy: str, sparsity: float | None) -> tuple[str, float | None] | None:
    """The variant a pruning variant is compared with: norm pruning at the same sparsity, or
    for the keep strategies, norm keeping the same per-layer widths (None for norm and keep_norm themselves)."""
    if strategy in ("norm", "keep_norm"):
        return None
    return ("keep_norm", None) if strategy in KEEP_STRATEGIES else ("norm", sparsity)


def pruning_table(
    unpruned: pd.DataFrame,
    variants: Mapping[tuple[str, float | None], pd.DataFrame],
    plans: Mapping[tuple[str, float | None], pd.DataFrame],
    roles: Mapping[str, Mapping[int, str]],
    resamples: int,
    seed: int,
    level: float,
) -> pd.DataFrame:
    """Unpruned vs each (strategy, sparsity): per task and probe layer the display metric
    (frame phone error %, SID / gender accuracy %, log-F0 MSE) with its bootstrap CI, the paired
    difference to the unpruned model with CI (``delta``), the paired difference to the reference
    variant (:func:`norm_counterpart`: norm at the same sparsity, or norm at the same widths)
    with CI (``vs_norm``), and the pruning counts summed over layers. The keep strategies have
    no nominal sparsity: their ``sparsity`` is the share of neurons they prune."""
    base = select_layers(unpruned, roles)
    t = compare(base, None, resamples, seed, level)
    t.insert(0, "strategy", "unpruned")
    t.insert(1, "sparsity", 0.0)
    n_prot = int(next(iter(plans.values()))["n_protected"].sum()) if plans else np.nan
    t = t.assign(n_pruned=0, n_protected=n_prot, n_protected_pruned=0)
    parts = [t]

    def order(item):
        (strategy, sparsity), _ = item
        return (sparsity is None, sparsity or 0.0, strategy)

    for (strategy, sparsity), losses in sorted(variants.items(), key=order):
        t = compare(select_layers(losses, roles), base, resamples, seed, level)
        plan = plans[(strategy, sparsity)]
        realised = plan["n_pruned"].sum() / max(plan["width"].sum(), 1)
        t.insert(0, "strategy", strategy)
        t.insert(1, "sparsity", float(sparsity) if sparsity is not None else float(realised))
        t = t.assign(
            n_pruned=int(plan["n_pruned"].sum()),
            n_protected=int(plan["n_protected"].sum()),
            n_protected_pruned=int(plan["n_protected_pruned"].sum()),
        )
        norm = norm_counterpart(strategy, sparsity)
        if norm is not None and norm in variants:  # paired difference to its norm counterpart
            c = compare(select_layers(losses, roles), select_layers(variants[norm], roles), resamples, seed, level)
            c = c[["task", "layer", "delta", "delta_ci_low", "delta_ci_high"]]
            c.columns = ["task", "layer", "vs_norm", "vs_norm_ci_low", "vs_norm_ci_high"]
            t = t.merge(c, on=["task", "layer"], how="left")
        parts.append(t)
    table = add_roles(pd.concat(parts, ignore_index=True), roles)
    for col in ("n_pruned", "n_protected", "n_protected_pruned"):
        table[col] = table[col].astype("Int64")
    return table.drop(columns=["eval_group"])
