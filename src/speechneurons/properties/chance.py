"""What the property-neuron counts mean: their chance level and their sensitivity.

- Permutation null (:func:`null_counts`): the same statistic with the labels of a null model
  (:func:`speechneurons.properties.statistic.permuted_labels`: phones and pitch bins shuffled
  among each utterance's frames, gender shuffled across utterances), for several seeds. The
  activations and their top neurons are unchanged, so what survives is what the statistic finds
  without any link between a frame's activations and its labels.
- min_count sensitivity (:func:`min_count_sensitivity`): the counts for several values of the
  minimum number of frames a phone needs in a group to count in C_g.
- Silhouette (:func:`silhouette_scores`): how well the activation profiles P(. | c, g) of the
  (phone, group) cells of a property separate by group.
- Gender x pitch bin (:func:`gender_pitch_table`): the frames of each gender in each pitch bin;
  pooled bins that nearly copy gender make gender ∩ pitch overlaps partly built in.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechneurons.phones import PHONES
from speechneurons.properties.statistic import (
    FrameLabels,
    LayerProperties,
    TopNeurons,
    count_top,
    group_universe,
    layer_properties,
    permuted_labels,
    property_groups,
)


@dataclass(frozen=True)
class ChanceSettings:
    """Keys of the ``properties`` config section for the chance level and the sensitivity
    (schemas/properties.schema.yaml)."""

    null_seeds: int
    sensitivity_min_counts: tuple[int, ...]


NULL_COLUMNS = ["seed", "property", "group", "n_group_neurons", "n_exclusive", "n_property_neurons"]


def _rows(lp: LayerProperties, **extra) -> list[dict]:
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


def null_counts(
    top: TopNeurons,
    labels: FrameLabels,
    utterances: np.ndarray,
    layer: int,
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    seeds: Iterable[int],
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> pd.DataFrame:
    """Group and property counts of the permutation null, one block of rows per seed
    (columns NULL_COLUMNS)."""
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    rows = []
    for seed in seeds:
        null = permuted_labels(labels, utterances, int(seed))
        lp = layer_properties(count_top(top, null, n_groups), layer, sigma, min_count, n_pitch_bins, selection, fdr_q)
        rows += _rows(lp, seed=int(seed))
    return pd.DataFrame(rows, columns=NULL_COLUMNS)


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
        rows += _rows(layer_properties(counts, layer, sigma, int(m), n_pitch_bins, selection, fdr_q), min_count=int(m))
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


def null_summary(null: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per property (and group): the mean of the null counts over seeds and their central
    ``level`` range."""
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    by_property = null.groupby(["seed", "property"], as_index=False)["n_property_neurons"].first()
    prop = by_property.groupby("property")["n_property_neurons"].agg(
        chance_mean="mean", chance_low=lambda x: x.quantile(lo), chance_high=lambda x: x.quantile(hi)
    )
    return prop.reset_index()
