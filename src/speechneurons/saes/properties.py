"""The property-neuron statistic, unchanged, on SAE latents (and its chance level).

The statistic (:mod:`speechneurons.properties.statistic`, docs/property-neurons.md) reads the
top tau units of every middle frame. On the F latents of an SAE, tau = round(tau_fraction * F),
and a latent counts as *activated* at a frame when it is active (z > 0) and among the frame's
top tau latents by z (ties to the lower index, as for neurons). A code may have fewer than tau
active latents (L0 < tau: mutual and feature choice, or TopK with k < tau): inactive latents
(z = 0) never count, so such a frame activates only its L0 latents. Everything after the
counts (P, S with the threshold tau / F, R_g, N_g, exclusive sets) is the neurons' code.

Chance level. Without any link between labels and units, P(j | c, g) estimates latent j's own
rate of being activated, whose mean over latents is E_t[min(tau, L0_t)] / F, not tau / F: the
definition's threshold tau / F is then stricter than chance on average (``base_rate`` reports
the mean rate). The count of property units has no closed-form chance level (densities differ
between units), so the SAE stage gives it by the properties stage's nulls, exactly as for
neurons (:func:`speechneurons.properties.nulls.null_sets`, the same draws and the same table,
one property at a time: speakers relabeled for gender, labels shifted circularly within each
utterance for phone type and pitch), the units counted again from the same top units (the
padding index F of a row with fewer than tau active latents is dropped).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from speechneurons.properties.statistic import (
    ActivationCounts,
    FrameLabels,
    LayerProperties,
    PropertySettings,
    TopNeurons,
    count_top,
    layer_properties,
    property_groups,
    tau_from_fraction,
    topk_indices,
)

from .sae import SparseAutoencoder


@torch.no_grad()
def _chunk_top(sae: SparseAutoencoder, x: np.ndarray, tau: int, device) -> np.ndarray:
    """The top-tau active latents of the rows ``x`` (padded with F); its tensors are freed on
    return, so the next chunk never meets this one's in memory (the peak stays one chunk's)."""
    z = sae.encode_dense(torch.from_numpy(x).to(device))
    top = topk_indices(z, tau)
    return torch.where(z.gather(1, top) > 0, top, torch.full_like(top, sae.n_latents)).cpu().numpy()


def top_latents(
    sae: SparseAutoencoder, acts: np.ndarray, labels: FrameLabels, tau: int, chunk_rows: int = 4096
) -> TopNeurons:
    """The activated latents of every used row of ``acts`` ([n, D] FFN activations, a memory
    map is fine): the active latents among the top tau by z (ties to the lower index). Rows with
    fewer than tau active latents are padded with the index F (a latent that does not exist;
    :func:`latent_counts` drops it). Returns a :class:`TopNeurons` whose ``D`` is F."""
    if len(labels.phone) != acts.shape[0]:
        raise ValueError(f"{acts.shape[0]} activation rows but {len(labels.phone)} label rows")
    F = sae.n_latents
    if not 1 <= tau <= F:
        raise ValueError(f"tau = {tau} must lie in 1..F = {F}")
    device = sae.W_enc.device
    used, tops = [], []
    for start in range(0, acts.shape[0], chunk_rows):
        stop = min(acts.shape[0], start + chunk_rows)
        rows = np.flatnonzero(labels.phone[start:stop] >= 0)
        if rows.size == 0:
            continue
        used.append(start + rows)
        tops.append(_chunk_top(sae, np.asarray(acts[start:stop], dtype=np.float32)[rows], tau, device))
    rows = np.concatenate(used) if used else np.zeros(0, np.int64)
    top = np.concatenate(tops) if tops else np.zeros((0, tau), np.int64)
    return TopNeurons(rows.astype(np.int64), top.astype(np.int64), F, tau, dict(labels.skipped))


def latent_counts(top: TopNeurons, labels: FrameLabels, n_groups: Mapping[str, int]) -> ActivationCounts:
    """count_top for latents: the padding index F is counted as a unit F + 1 and dropped."""
    padded = TopNeurons(top.rows, top.top, top.D + 1, top.tau, top.skipped)
    counts = count_top(padded, labels, n_groups)
    active = {prop: a[:, :, : top.D] for prop, a in counts.active.items()}
    return ActivationCounts(D=top.D, tau=top.tau, active=active, frames=counts.frames, skipped=counts.skipped)


def base_rate(top: TopNeurons) -> float:
    """Mean over units of their chance of being activated at a used frame,
    E_t[min(tau, L0_t)] / D (tau / D for neurons, which always have tau activated)."""
    if len(top.rows) == 0:
        return float("nan")
    return float((top.top < top.D).sum(axis=1).mean() / top.D)


def unit_properties(
    top: TopNeurons, labels: FrameLabels, layer: int, settings: PropertySettings, n_pitch_bins: int
) -> LayerProperties:
    """The statistic of one layer's units (latents or neurons) from their top units."""
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    counts = latent_counts(top, labels, n_groups)
    return layer_properties(
        counts, layer, settings.sigma, settings.min_count, n_pitch_bins, settings.selection, settings.fdr_q
    )


def latent_properties(
    sae: SparseAutoencoder,
    acts: np.ndarray,
    labels: FrameLabels,
    layer: int,
    settings: PropertySettings,
    n_pitch_bins: int,
    chunk_rows: int = 4096,
) -> tuple[LayerProperties, TopNeurons]:
    """The property statistic on the SAE's latents (tau from F), and the top latents behind it."""
    tau = tau_from_fraction(settings.tau_fraction, sae.n_latents)
    top = top_latents(sae, acts, labels, tau, chunk_rows)
    return unit_properties(top, labels, layer, settings, n_pitch_bins), top


def count_rows(doc: Mapping) -> list[dict]:
    """Counts of one statistic (a ``neurons.json`` document, :meth:`LayerProperties.neurons_json`):
    per property and group, the group units (``n_group``, N_g) and the exclusive ones
    (``n_exclusive``, E_g); per property (``group`` = ''), the units of any group (the union
    of the N_g) and the property units (the union of the E_g, in both count columns)."""
    rows = []
    for prop, groups in doc["group_neurons"].items():
        for g, units in groups.items():
            rows.append(
                dict(
                    property=prop, group=g, n_group=len(units), n_exclusive=len(doc["exclusive_group_neurons"][prop][g])
                )
            )
        n_prop = len(doc["property_neurons"][prop])
        rows.append(
            dict(property=prop, group="", n_group=len(set().union(*map(set, groups.values()))), n_exclusive=n_prop)
        )
    return rows
