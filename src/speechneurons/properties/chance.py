"""What the property-neuron counts mean: their chance level and their sensitivity.

- Permutation null (:func:`resample_counts`): the same statistic with the labels of a null model
  (:func:`speechneurons.properties.statistic.permuted_labels`: phones and pitch bins shuffled
  among each utterance's frames, gender shuffled across utterances), for several seeds. The
  activations and their top neurons are unchanged, so what survives is what the statistic finds
  without any link between a frame's activations and its labels.
- Bootstrap (:func:`resample_counts`): the same statistic on resamples of the utterances (drawn
  with replacement), for an interval around every count and overlap.
- min_count sensitivity (:func:`min_count_sensitivity`): the counts for several values of the
  minimum number of frames a phone needs in a group to count in C_g.
- Silhouette (:func:`silhouette_scores`): how well the activation profiles P(. | c, g) of the
  (phone, group) cells of a property separate by group.
- Gender x pitch bin (:func:`gender_pitch_table`): the frames of each gender in each pitch bin;
  pooled bins that nearly copy gender make gender ∩ pitch overlaps partly built in, which
  :func:`binning_sensitivity` measures by counting again with the other pitch binning.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from speechneurons.phones import PHONES
from speechneurons.pitch.groups import assign_bins, cut_points
from speechneurons.properties.statistic import (
    FrameLabels,
    LayerProperties,
    TopNeurons,
    count_top,
    group_universe,
    layer_properties,
    permuted_labels,
    property_groups,
    set_counts,
)
from speechneurons.stats import unit_weights


@dataclass(frozen=True)
class ChanceSettings:
    """Keys of the ``properties`` config section for the chance level and the sensitivity
    (schemas/properties.schema.yaml)."""

    count_resamples: int
    sensitivity_min_counts: tuple[int, ...]


NULL_COLUMNS = ["seed", "property", "group", "n_group_neurons", "n_exclusive", "n_property_neurons"]


def null_rows(lp: LayerProperties, **extra) -> list[dict]:
    """One row of NULL_COLUMNS per (property, group) of a layer's statistic, with ``extra``
    columns first (e.g. the seed of the permutation null)."""
    rows = []
    for prop, groups in lp.group_neurons.items():
        for group, neurons in groups.items():
            rows.append(
                {
                    **extra,
                    "property": prop,
                    "group": group,
                    "n_group_neurons": len(neurons),
                    "n_exclusive": len(lp.exclusive_group_neurons[prop][group]),
                    "n_property_neurons": len(lp.property_neurons[prop]),
                }
            )
    return rows


class Resamples(NamedTuple):
    """What :func:`resample_counts` returns."""

    null: pd.DataFrame
    """Group and property counts of the permutation null, per seed (columns NULL_COLUMNS)."""
    sets: pd.DataFrame
    """Set sizes (:func:`speechneurons.properties.statistic.set_counts`) per replicate:
    ``kind`` 'null' (permuted labels) or 'bootstrap' (utterances resampled), ``seed``."""


def resample_counts(
    top: TopNeurons,
    labels: FrameLabels,
    utterances: np.ndarray,
    layer: int,
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    null_seeds: Iterable[int],
    bootstrap_seeds: Iterable[int] = (),
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> Resamples:
    """The statistic again on resampled data, from the same top neurons: with the labels of the
    permutation null (one replicate per seed of ``null_seeds``) and on bootstrap resamples of the
    utterances (one per seed of ``bootstrap_seeds``; the same seed draws the same utterances in
    every layer, so a replicate's counts over layers belong together)."""
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    args = (layer, sigma, min_count, n_pitch_bins, selection, fdr_q)
    groups, sets = [], []
    for seed in null_seeds:
        null = permuted_labels(labels, utterances, int(seed))
        lp = layer_properties(count_top(top, null, n_groups), *args)
        groups += null_rows(lp, seed=int(seed))
        sets.append({"kind": "null", "seed": int(seed), **set_counts(lp.property_neurons)})
    used = labels.phone >= 0  # resample the utterances that enter the statistic
    for seed in bootstrap_seeds:
        w = np.zeros(len(used), dtype=np.int64)
        w[used] = unit_weights(np.asarray(utterances)[used], int(seed))
        lp = layer_properties(count_top(top, labels, n_groups, w), *args)
        sets.append({"kind": "bootstrap", "seed": int(seed), **set_counts(lp.property_neurons)})
    return Resamples(pd.DataFrame(groups, columns=NULL_COLUMNS), pd.DataFrame(sets))


def min_count_sensitivity(
    top: TopNeurons,
    labels: FrameLabels,
    layer: int,
    sigma: float,
    min_counts: Sequence[int],
    n_pitch_bins: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> pd.DataFrame:
    """Group and property counts for each min_count (columns min_count + NULL_COLUMNS[1:])."""
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    counts = count_top(top, labels, n_groups)
    rows = []
    for m in min_counts:
        rows += null_rows(
            layer_properties(counts, layer, sigma, int(m), n_pitch_bins, selection, fdr_q), min_count=int(m)
        )
    return pd.DataFrame(rows, columns=["min_count", *NULL_COLUMNS[1:]])


def silhouette_scores(lp: LayerProperties) -> dict[str, float]:
    """Per property, the silhouette score (Euclidean) of the activation profiles P(. | c, g)
    of its (phone, group) cells, labelled by group: one sample per phone of C_g per group (a
    phone-type group has its own phones only). Near 1: the groups' profiles are far apart;
    near 0: they overlap; NaN when a property has fewer than two groups with cells."""
    from sklearn.metrics import silhouette_score

    out = {}
    for prop, groups in lp.groups.items():
        X, y = [], []
        for g in groups:
            key = (prop, g)
            keep = lp.in_C[key] & np.isin(np.array(PHONES), group_universe(prop, g))
            X.append(lp.P[key][keep])
            y += [g] * int(keep.sum())
        X = np.concatenate(X) if X else np.zeros((0, lp.D))
        ok = len(set(y)) >= 2 and len(y) > len(set(y))
        out[prop] = float(silhouette_score(np.nan_to_num(X), np.asarray(y))) if ok else float("nan")
    return out


def gender_pitch_table(labels: FrameLabels, n_pitch_bins: int) -> pd.DataFrame:
    """Frames of the statistic (voiced, used) per gender and pitch bin, with the share of each
    bin's frames that are female."""
    used = labels.phone >= 0
    gender, pitch = labels.groups["gender"][used], labels.groups["pitch"][used]
    rows = []
    for b in range(n_pitch_bins):
        in_bin = pitch == b
        f, m = int((in_bin & (gender == 0)).sum()), int((in_bin & (gender == 1)).sum())
        rows.append({"pitch_bin": b, "frames_F": f, "frames_M": m, "share_F": f / max(f + m, 1)})
    return pd.DataFrame(rows)


BINNINGS = ("pooled", "per_gender")


def recut_pitch_labels(labels: FrameLabels, f0_hz: np.ndarray, n_pitch_bins: int, binning: str) -> FrameLabels:
    """The labels with the pitch bins cut again on the statistic's own frames (used and voiced):
    equal-count bins over all of them ('pooled') or separately for each gender ('per_gender')."""
    if binning not in BINNINGS:
        raise ValueError(f"binning must be one of {BINNINGS}, not {binning!r}")
    f0 = np.asarray(f0_hz, dtype=np.float64)
    pitch = np.full(len(f0), -1, dtype=np.int64)
    used = (labels.phone >= 0) & np.isfinite(f0) & (f0 > 0)
    keys = labels.groups["gender"] if binning == "per_gender" else np.zeros(len(f0), dtype=np.int64)
    for k in np.unique(keys[used]):
        rows = used & (keys == k)
        edges = cut_points(f0[rows], n_pitch_bins)
        pitch[rows] = assign_bins(f0[rows], np.ones(int(rows.sum()), dtype=bool), edges)
    groups = {**labels.groups, "pitch": np.where(labels.phone >= 0, pitch, -1)}
    return FrameLabels(phone=labels.phone, groups=groups, skipped=dict(labels.skipped))


def binning_sensitivity(
    top: TopNeurons,
    labels: FrameLabels,
    f0_hz: np.ndarray,
    configured: str,
    layer: int,
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> pd.DataFrame:
    """Pitch neurons and their overlap with gender neurons under the configured pitch binning
    (the labels as given, bins cut on the whole corpus) and under the other binning (bins cut
    again on the statistic's frames), with the share of female frames in each pitch bin.

    Pooled bins over a corpus of female and male voices nearly copy gender, so a large
    gender ∩ pitch overlap with pooled bins that shrinks with per-gender bins is built in by the
    labels rather than found in the model."""
    if configured not in BINNINGS:
        raise ValueError(f"binning must be one of {BINNINGS}, not {configured!r}")
    other = BINNINGS[1 - BINNINGS.index(configured)]
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    rows = []
    for binning, source, lab in (
        (configured, "configured", labels),
        (other, "recut", recut_pitch_labels(labels, f0_hz, n_pitch_bins, other)),
    ):
        lp = layer_properties(count_top(top, lab, n_groups), layer, sigma, min_count, n_pitch_bins, selection, fdr_q)
        table = gender_pitch_table(lab, n_pitch_bins)
        rows.append(
            {
                "binning": binning,
                "source": source,
                "n_pitch": len(lp.property_neurons["pitch"]),
                "n_gender": len(lp.property_neurons["gender"]),
                "overlap_gender_pitch": len(set(lp.property_neurons["pitch"]) & set(lp.property_neurons["gender"])),
                **{f"share_F_bin_{r.pitch_bin}": round(r.share_F, 4) for r in table.itertuples(index=False)},
            }
        )
    return pd.DataFrame(rows)
