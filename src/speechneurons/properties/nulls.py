"""Chance levels of the property-neuron counts: one null per property, the other labels kept.

Each null breaks the link between the activations and ONE property's labels, at the unit that
carries that property, and keeps everything else (the activations and their top neurons, the
phones, the other groups, the utterances and speakers):

- gender (a speaker attribute): the speakers are relabeled, as many F and M as observed
  (:func:`speaker_relabelings`). With few speakers every distinct relabeling is used (7 F + 7 M:
  C(14, 7) / 2 = 1,716 partitions, as F/M swapped gives the same property neurons); otherwise a
  random sample. Relabeling utterances or frames instead is anti-conservative: the utterances of
  one speaker are not independent.
- phone type and pitch (frame labels, autocorrelated in time): each utterance's label sequence
  is shifted circularly by a random offset (:func:`circular_shift`), which keeps the runs of
  equal labels and the utterance's label mix. Phone type shifts the phones (a phone's type goes
  with it); pitch shifts the pitch bins (unvoiced frames, bin -1, included), phones kept.

The statistic per draw is cheap: the activated indicator (top tau neurons of every frame) is
computed once per layer; a draw only regroups it. For gender the per-(speaker, phone) counts
are summed by the relabeling (one matrix product); for a shift the counts are bincounts over the
frames. p-values are rank p-values, (1 + #{null >= observed}) / (1 + draws).

Intervals of the counts (:func:`bootstrap_sets`): speakers resampled within gender
(``bootstrap_speaker``, the unit of a speaker attribute) and utterances resampled within speaker
(``bootstrap``, for phone-level counts).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from typing import NamedTuple

import numpy as np
import pandas as pd

from speechneurons.phones import PHONE_TYPES, PHONES
from speechneurons.properties.statistic import (
    PROPERTIES,
    FrameLabels,
    TopNeurons,
    count_top,
    exclusive_sets,
    group_universe,
    layer_properties,
    property_groups,
    ratio_R,
    selectivity,
    selectivity_binomial,
    set_counts,
)
from speechneurons.stats import centred_interval, rank_p_value

NULL_KINDS = {"gender": "speaker_relabeling", "phone_type": "circular_shift", "pitch": "circular_shift"}


@dataclass(frozen=True)
class NullSettings:
    """Keys of the ``properties`` config section for the nulls and intervals of the counts
    (schemas/properties.schema.yaml)."""

    null_draws: int
    null_exact_max: int
    count_resamples: int


def rank_p(observed: float, null: Sequence[float]) -> float:
    """Rank p-value of ``observed`` against null draws, one-sided (large is extreme):
    (1 + #{null >= observed}) / (1 + n) over the finite draws; NaN with no draw
    (:func:`speechneurons.stats.rank_p_value`)."""
    x = np.asarray(null, dtype=float)
    return rank_p_value(observed, x[np.isfinite(x)])


# --------------------------------------------------------------------------- the count per draw


@cache
def _universe(prop: str, group: str) -> np.ndarray:
    """Boolean [39]: the phones C_g may contain (read-only, cached)."""
    mask = np.isin(np.array(PHONES), group_universe(prop, group))
    mask.flags.writeable = False
    return mask


def property_sets(
    active: np.ndarray,
    frames: np.ndarray,
    prop: str,
    tau: int,
    sigma: float,
    min_count: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Group neurons N_g and exclusive group neurons E_g of ``prop`` from its counts A [39, G, D]
    and n [39, G] (exactly the definition of
    :func:`speechneurons.properties.statistic.layer_properties`, for one property, without the
    tables; a property with fewer than two groups with data has no exclusive neurons)."""
    names = property_groups(active.shape[1] if prop == "pitch" else 3)[prop]
    D = active.shape[2]
    groups: dict[str, list[int]] = {}
    with_data = 0
    for gi, g in enumerate(names):
        A, n = active[:, gi, :], frames[:, gi]
        in_C = _universe(prop, g) & (n >= min_count)
        if not in_C.any():
            groups[g] = []
            continue
        with_data += 1
        S = selectivity_binomial(A, n, tau, D, in_C, fdr_q) if selection == "binomial" else selectivity(A, n, tau, D)
        ratio, _ = ratio_R(S, in_C)
        groups[g] = np.flatnonzero(ratio >= sigma).tolist()
    exclusive = exclusive_sets(groups) if with_data >= 2 else {g: [] for g in names}
    return groups, exclusive


def property_neuron_mask(
    active: np.ndarray,
    frames: np.ndarray,
    prop: str,
    tau: int,
    sigma: float,
    min_count: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> np.ndarray:
    """Boolean [D] of the property neurons of ``prop`` (the union of :func:`property_sets`' E_g)."""
    _, exclusive = property_sets(active, frames, prop, tau, sigma, min_count, selection, fdr_q)
    out = np.zeros(active.shape[2], dtype=bool)
    for neurons in exclusive.values():
        out[neurons] = True
    return out


# --------------------------------------------------------------------------- gender: speakers relabeled


def speaker_codes(speakers: np.ndarray, labels: FrameLabels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The speakers that enter the statistic: their names, a code per row (-1 = row not used)
    and each speaker's gender index (0 F, 1 M). A speaker labelled with both genders is an error."""
    used = labels.phone >= 0
    spk = np.asarray(speakers).astype(str)
    names, code = np.unique(spk[used], return_inverse=True)
    row_code = np.full(len(spk), -1, dtype=np.int64)
    row_code[used] = code
    gender = np.full(len(names), -1, dtype=np.int64)
    g = labels.groups["gender"][used]
    for s in range(len(names)):
        values = np.unique(g[code == s])
        if len(values) != 1:
            raise ValueError(f"speaker {names[s]} has rows of both genders; gender must be a speaker attribute")
        gender[s] = values[0]
    return names, row_code, gender


def n_relabelings(n_speakers: int, n_first: int) -> int:
    """Distinct relabelings of ``n_speakers`` with ``n_first`` in the first gender, counted as
    partitions when both genders are equally many (F/M swapped is the same partition)."""
    total = math.comb(n_speakers, n_first)
    return total // 2 if 2 * n_first == n_speakers else total


def speaker_relabelings(gender: np.ndarray, n_draws: int, exact_max: int, seed: int) -> tuple[np.ndarray, bool]:
    """Gender relabelings of the speakers [draws, S] (0/1), each with as many of each gender as
    observed, the observed labeling (and its mirror) left out. Every distinct relabeling when
    there are at most ``exact_max`` (then ``exact`` is True, listed in a fixed order), otherwise
    ``n_draws`` random ones. The same arguments give the same draws in every layer."""
    gender = np.asarray(gender, dtype=np.int64)
    S, k = len(gender), int((gender == 0).sum())
    if S == 0 or k in (0, S):
        return np.zeros((0, S), dtype=np.int64), True
    total = n_relabelings(S, k)
    observed = frozenset(np.flatnonzero(gender == 0).tolist())
    mirror = frozenset(np.flatnonzero(gender == 1).tolist())
    if total <= exact_max:
        balanced = 2 * k == S
        rows = []
        for first in combinations(range(S), k):
            if balanced and 0 not in first:  # one of each mirrored pair: the one with speaker 0 in F
                continue
            f = frozenset(first)
            if f in (observed, mirror):
                continue
            lab = np.ones(S, dtype=np.int64)
            lab[list(first)] = 0
            rows.append(lab)
        return (np.array(rows, dtype=np.int64) if rows else np.zeros((0, S), dtype=np.int64)), True
    rng = np.random.default_rng(seed)
    rows = [rng.permutation(gender) for _ in range(n_draws)]
    return np.array(rows, dtype=np.int64), False


def speaker_phone_counts(top: TopNeurons, labels: FrameLabels, row_speaker: np.ndarray, n_speakers: int):
    """A_s[s, c, j]: frames of speaker s and phone c that activate j, and n_s[s, c] (the
    activated indicator grouped by speaker and phone once; a relabeling only sums speakers)."""
    C, D = len(PHONES), _width(top)
    phone, spk = labels.phone[top.rows], row_speaker[top.rows]
    ok = (phone >= 0) & (spk >= 0)
    key = spk[ok] * C + phone[ok]
    n = np.bincount(key, minlength=n_speakers * C).reshape(n_speakers, C)
    cells = (key[:, None] * D + top.top[ok]).ravel()
    A = np.bincount(cells, minlength=n_speakers * C * D).reshape(n_speakers, C, D)
    return A[:, :, : top.D], n


def _width(top: TopNeurons) -> int:
    """Units per row of the count arrays: D, or D + 1 when the top lists use D as padding (an
    SAE latent row with fewer than tau active latents); the padding unit is dropped after."""
    return top.D + 1 if top.top.size and int(top.top.max()) >= top.D else top.D


def _count(top: TopNeurons, labels: FrameLabels, n_groups: dict) -> tuple[dict, dict]:
    """count_top's A and n, with the padding unit of :func:`_width` dropped."""
    padded = TopNeurons(top.rows, top.top, _width(top), top.tau, top.skipped)
    c = count_top(padded, labels, n_groups)
    return {p: a[:, :, : top.D] for p, a in c.active.items()}, c.frames


def gender_null(
    top: TopNeurons,
    labels: FrameLabels,
    speakers: np.ndarray,
    sigma: float,
    min_count: int,
    n_draws: int,
    exact_max: int,
    seed: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> tuple[list[tuple[dict, dict]], bool]:
    """Gender group and exclusive group neurons (:func:`property_sets`) under every speaker
    relabeling of :func:`speaker_relabelings`, and whether the relabelings are exhaustive."""
    _, row_speaker, gender = speaker_codes(speakers, labels)
    draws, exact = speaker_relabelings(gender, n_draws, exact_max, seed)
    A_s, n_s = speaker_phone_counts(top, labels, row_speaker, len(gender))
    total_A, total_n = A_s.sum(axis=0), n_s.sum(axis=0)
    out = []
    for lab in draws:
        first = lab == 0  # sums of integer rows: exact, and faster than a matrix product
        A_f, n_f = A_s[first].sum(axis=0), n_s[first].sum(axis=0)
        active = np.stack([A_f, total_A - A_f], axis=1)  # [C, 2, D]
        frames = np.stack([n_f, total_n - n_f], axis=1)  # [C, 2]
        out.append(property_sets(active, frames, "gender", top.tau, sigma, min_count, selection, fdr_q))
    return out, exact


# --------------------------------------------------------------------------- frame labels: circular shift


def utterance_blocks(utterances: np.ndarray, used: np.ndarray) -> list[np.ndarray]:
    """The used rows of each utterance, in row order (time order of the dump)."""
    used = np.asarray(used, dtype=bool)
    rows = np.flatnonzero(used)
    _, code = np.unique(np.asarray(utterances)[rows], return_inverse=True)
    order = np.argsort(code, kind="stable")
    cuts = np.flatnonzero(np.diff(code[order])) + 1
    return [rows[b] for b in np.split(order, cuts)] if len(rows) else []


def circular_shift(values: np.ndarray, blocks: Iterable[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``values`` with each block's sequence rotated by an offset drawn uniformly from
    1..len - 1 (a block of one row stays): runs of equal labels, hence the autocorrelation,
    and each block's label mix are kept."""
    out = np.array(values, copy=True)
    for b in blocks:
        if len(b) > 1:
            out[b] = np.roll(values[b], int(rng.integers(1, len(b))))
    return out


def shifted_labels(labels: FrameLabels, prop: str, blocks: list[np.ndarray], rng: np.random.Generator) -> FrameLabels:
    """The labels with ``prop``'s frame labels shifted circularly within each utterance and
    every other label kept: 'phone_type' shifts the phones (and their types) of the used rows,
    'pitch' the pitch bins."""
    groups = dict(labels.groups)
    phone = labels.phone
    if prop == "phone_type":
        phone = circular_shift(labels.phone, blocks, rng)
        type_of = {p: i for i, t in enumerate(PHONE_TYPES) for p in PHONE_TYPES[t]}
        ptype = np.array([type_of[p] for p in PHONES], dtype=np.int64)
        groups["phone_type"] = np.where(phone >= 0, ptype[np.maximum(phone, 0)], -1)
    elif prop == "pitch":
        groups["pitch"] = np.where(labels.phone >= 0, circular_shift(labels.groups["pitch"], blocks, rng), -1)
    else:
        raise ValueError(f"circular shift is the null of frame labels (phone_type, pitch), not {prop!r}")
    return FrameLabels(phone=phone, groups=groups, skipped=dict(labels.skipped))


def shift_null(
    top: TopNeurons,
    labels: FrameLabels,
    utterances: np.ndarray,
    prop: str,
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    n_draws: int,
    seed: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> list[tuple[dict, dict]]:
    """``prop``'s group and exclusive group neurons (:func:`property_sets`) under ``n_draws`` circular shifts of its
    labels within each utterance (:func:`shifted_labels`); draw i uses the same offsets in every
    layer (same seed, same rows)."""
    blocks = utterance_blocks(utterances, labels.phone >= 0)
    G = len(property_groups(n_pitch_bins)[prop])
    out = []
    for i in range(n_draws):
        rng = np.random.default_rng([int(seed), i])
        lab = shifted_labels(labels, prop, blocks, rng)
        active, frames = _count(top, lab, {prop: G})
        out.append(property_sets(active[prop], frames[prop], prop, top.tau, sigma, min_count, selection, fdr_q))
    return out


# --------------------------------------------------------------------------- the null table


class NullDraws(NamedTuple):
    """What :func:`null_sets` returns."""

    sets: pd.DataFrame
    """Set sizes per draw (replicates.tsv rows of kind 'null')."""
    groups: pd.DataFrame
    """Group and property counts per draw (null.tsv: NULL_COLUMNS of properties.chance, with
    ``seed`` the draw)."""


def null_sets(
    top: TopNeurons,
    labels: FrameLabels,
    utterances: np.ndarray,
    speakers: np.ndarray,
    observed: dict[str, Iterable[int]],
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    settings: NullSettings,
    seed: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
    properties: Sequence[str] = PROPERTIES,
) -> NullDraws:
    """Set sizes (:func:`speechneurons.properties.statistic.set_counts`) under each property's
    null: one row per draw with ``kind`` 'null', ``property`` (the property whose labels were
    broken; the other properties' sets are the observed ones, so an overlap row reads what the
    overlap would be by chance for that property), ``null`` (speaker_relabeling /
    circular_shift), ``seed`` (the draw) and ``exact`` (every relabeling used); and the group
    counts of every draw. ``properties``: the properties whose null is drawn (default all; the
    power simulation of the findings stage draws only those its claims read)."""
    rows, group_rows = [], []
    for prop in properties:
        if prop == "gender":
            draws, exact = gender_null(
                top, labels, speakers, sigma, min_count, settings.null_draws, settings.null_exact_max, seed, selection,
                fdr_q,
            )  # fmt: skip
        else:
            draws, exact = shift_null(
                top, labels, utterances, prop, sigma, min_count, n_pitch_bins, settings.null_draws, seed, selection,
                fdr_q,
            ), False  # fmt: skip
        for i, (groups, exclusive) in enumerate(draws):
            members = sorted(set().union(*exclusive.values()))
            sets = {p: list(observed[p]) for p in PROPERTIES}
            sets[prop] = members
            rows.append({"kind": "null", "property": prop, "null": NULL_KINDS[prop], "seed": i, "exact": exact,
                         **set_counts(sets)})  # fmt: skip
            for g in groups:
                group_rows.append(
                    {
                        "seed": i,
                        "property": prop,
                        "group": g,
                        "n_group_neurons": len(groups[g]),
                        "n_exclusive": len(exclusive[g]),
                        "n_property_neurons": len(members),
                    }  # fmt: skip
                )
    return NullDraws(pd.DataFrame(rows), pd.DataFrame(group_rows))


def stratified_weights(units: np.ndarray, strata: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Multiplicity of every row when the units (speakers, utterances) are drawn with replacement
    within each stratum (as many as the stratum has): a unit drawn k times counts k times."""
    units, strata = np.asarray(units).astype(str), np.asarray(strata).astype(str)
    w = np.zeros(len(units), dtype=np.int64)
    for s in np.unique(strata):
        rows = np.flatnonzero(strata == s)
        names, code = np.unique(units[rows], return_inverse=True)
        draws = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names))
        w[rows] = draws[code]
    return w


def bootstrap_sets(
    top: TopNeurons,
    labels: FrameLabels,
    utterances: np.ndarray,
    speakers: np.ndarray,
    layer: int,
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    n_resamples: int,
    seed: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> pd.DataFrame:
    """Set sizes on resamples: ``bootstrap_speaker`` (speakers drawn with replacement within each
    gender: the interval of a speaker attribute, gender and pitch) and ``bootstrap``
    (utterances within each speaker: phone-level counts). Resample i is the same in every layer."""
    used = labels.phone >= 0
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    spk = np.asarray(speakers).astype(str)
    gender = labels.groups["gender"].astype(str)
    rows = []
    for kind, units, strata in (("bootstrap_speaker", spk, gender), ("bootstrap", np.asarray(utterances), spk)):
        for i in range(n_resamples):
            rng = np.random.default_rng([int(seed), 1 if kind == "bootstrap" else 2, i])
            w = np.zeros(len(used), dtype=np.int64)
            w[used] = stratified_weights(units[used], strata[used], rng)
            padded = TopNeurons(top.rows, top.top, _width(top), top.tau, top.skipped)
            c = count_top(padded, labels, n_groups, w)
            c.active = {p: a[:, :, : top.D] for p, a in c.active.items()}
            c.D = top.D
            lp = layer_properties(c, layer, sigma, min_count, n_pitch_bins, selection, fdr_q)
            rows.append({"kind": kind, "seed": i, **set_counts(lp.property_neurons)})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- summary columns

INTERVAL_KIND = {"phone_type": "bootstrap", "gender": "bootstrap_speaker", "pitch": "bootstrap_speaker"}


def _properties_of(column: str) -> list[str]:
    """The properties a set-size column involves (n_gender -> [gender]; overlap_all -> all)."""
    if column == "overlap_all":
        return list(PROPERTIES)
    return [p for p in PROPERTIES if p in column]


def chance_columns(replicates: pd.DataFrame, observed: dict, level: float = 0.95) -> dict[str, float]:
    """From a layer's replicates.tsv and its observed set sizes: for every set size column
    (``n_<prop>``, ``overlap_*``) the chance level under the null of the property it counts
    (``chance_<col>`` mean, ``chance_low_<col>`` / ``chance_high_<col>`` the central ``level``
    range, ``p_<col>`` the rank p-value of the observed size, ``null_draws_<col>``; an overlap
    reads the null of each property it involves and keeps the widest range and the largest
    p-value) and its interval (``ci_low_<col>``, ``ci_high_<col>``: centred on the observed size,
    :func:`speechneurons.stats.centred_interval`, over speakers resampled within gender for
    gender, pitch and overlaps with them, over utterances within speaker for phone type; a
    resample repeats frames, and more units pass the selection on repeated frames, so the
    resampled sizes are biased and their percentile interval can miss the size itself).
    Replicates of the older format (a null with no ``property`` column) are read as one null
    for every column."""
    lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
    out: dict[str, float] = {}
    cols = [c for c in replicates.columns if c.startswith(("n_", "overlap_"))]
    null = replicates[replicates["kind"] == "null"]
    for c in cols:
        props = _properties_of(c)
        obs = float(observed.get(c, math.nan))
        if "property" in null.columns:
            parts = [null.loc[null["property"] == p, c].astype(float) for p in props]
        else:
            parts = [null[c].astype(float)]
        parts = [x for x in parts if len(x)]
        if parts:
            out[f"chance_{c}"] = float(max(x.mean() for x in parts))
            out[f"chance_low_{c}"] = float(min(x.quantile(lo) for x in parts))
            out[f"chance_high_{c}"] = float(max(x.quantile(hi) for x in parts))
            out[f"p_{c}"] = float(max(rank_p(obs, x.to_numpy()) for x in parts))
            out[f"null_draws_{c}"] = int(min(len(x) for x in parts))
        kind = "bootstrap_speaker" if any(INTERVAL_KIND[p] == "bootstrap_speaker" for p in props) else "bootstrap"
        boot = replicates[replicates["kind"] == kind]
        if not len(boot):
            boot = replicates[replicates["kind"] == "bootstrap"]
        if len(boot):
            out[f"ci_low_{c}"], out[f"ci_high_{c}"] = centred_interval(boot[c].astype(float), obs, level)
    return out


def random_seed_tables(random_summary) -> list[pd.DataFrame]:
    """The random-weights summaries as a list: None, one table or a list of tables (one per
    initialisation seed, properties.random_weights_seeds); empty tables left out."""
    if random_summary is None:
        return []
    tables = [random_summary] if isinstance(random_summary, pd.DataFrame) else list(random_summary)
    return [t for t in tables if t is not None and len(t)]


def random_mean(random_summary) -> pd.DataFrame | None:
    """Per layer, the mean over the random-weights seeds of every numeric column (the table
    itself for one seed), with ``random_seeds`` their number; None without a control."""
    tables = random_seed_tables(random_summary)
    if not tables:
        return None
    if len(tables) == 1:
        return tables[0].assign(random_seeds=1)
    mean = pd.concat(tables, ignore_index=True).groupby("layer", as_index=False).mean(numeric_only=True)
    return mean.assign(random_seeds=len(tables))


def with_random_weights(summary: pd.DataFrame, random_summary) -> pd.DataFrame:
    """The summary with, per layer, the counts of the same architecture with random weights on
    the same data (``random_n_<prop>``: the mean over the initialisation seeds, with their
    smallest and largest ``random_low_n_<prop>``, ``random_high_n_<prop>`` and their number
    ``random_seeds``), their chance range (``random_chance_high_n_<prop>``, the highest over
    seeds) and the trained minus random difference (``trained_minus_random_n_<prop>``, against
    the mean): the primary control of every count (a count a network of this shape gives
    untrained is not learned). ``random_summary``: the random-weights summary.tsv, or a list of
    them, one per seed; None = no control."""
    out = summary.copy()
    tables = random_seed_tables(random_summary)
    if not tables:
        return out
    out["random_seeds"] = len(tables)
    for p in PROPERTIES:
        col = f"n_{p}"
        if not all(col in t for t in tables):
            continue
        per_seed = pd.concat([out["layer"].map(t.set_index("layer")[col]) for t in tables], axis=1)
        rnd = per_seed.iloc[:, 0] if len(tables) == 1 else per_seed.mean(axis=1)
        out[f"random_{col}"] = rnd
        out[f"random_low_{col}"], out[f"random_high_{col}"] = per_seed.min(axis=1), per_seed.max(axis=1)
        out[f"trained_minus_random_{col}"] = out[col] - rnd
        if all(f"chance_high_{col}" in t for t in tables):
            highs = pd.concat([out["layer"].map(t.set_index("layer")[f"chance_high_{col}"]) for t in tables], axis=1)
            out[f"random_chance_high_{col}"] = highs.max(axis=1)
    return out
