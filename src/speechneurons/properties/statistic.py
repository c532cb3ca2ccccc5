"""Property neurons: phone-type, gender and pitch neurons of one FFN layer (Lin et al., 2024).

Exact definition: docs/property-neurons.md. Per layer, over middle frames of speech
phones (``sil``/``spn`` excluded), with D neurons:

- tau = round_half_up(tau_fraction * D), at least 1. Neuron j is *activated* at frame t when it
  is among the top tau neurons by |a_t,j|. Ties at the tau-th value are broken towards the
  LOWER neuron index (deterministic; exactly tau neurons are active at every frame).
- P(j | c, g) = A[c, g, j] / n[c, g], where n[c, g] is the number of middle frames of phone c in
  group g and A[c, g, j] how many of them activate j.
- S(c, g) = { j : P(j | c, g) > tau / D }, tested exactly in integers: A * D > tau * n.
  P exactly at chance is NOT selective.
- C_g = the group's phone universe (its own phones for a phone-type group, all 39 phones for a
  gender or pitch group) restricted to phones with n[c, g] >= min_count (min_count >= 1, so
  phones with no frame in g are always left out).
- R_g(j) = |{ c in C_g : j in S(c, g) }| / |C_g| (0 when C_g is empty).
- N_g = { j : R_g(j) >= sigma }. R is one correctly rounded float division, so R exactly sigma
  (e.g. 4/5 against 0.8) counts as >= sigma.
- Exclusive group neurons E_g = N_g minus the union of N_g' for the other groups g' of the
  same property; property neurons of property P = union over g in P of E_g.

A property of the definition worth knowing when reading the counts: without any structure,
P(j | c, g) lies above chance for roughly half of the phones (binomial noise around tau / D),
so R_g(j) ~ Binomial(|C_g|, ~0.5) / |C_g|. For the small phone-type groups (15, 15 and 9
phones) R >= 0.8 then happens by chance for about 2 % of the neurons each, and such neurons are
usually exclusive, hence phone-type property neurons; for gender and pitch groups (39 phones)
the chance rate is below 1e-4 (binomial tail 32 of 39 at 0.5: 3.5e-5).

Groups: ``phone_type`` (vowel / voiced_consonant / unvoiced_consonant), ``gender`` (F / M),
``pitch`` (bins "0".."n-1"; unvoiced frames, pitch_bin = -1, belong to no pitch group).

The counts A are streamed over row chunks of the memory-mapped ``mid.npy`` dump: each chunk
is converted to float32, the top-tau mask is computed for the whole chunk at once with torch,
and (phone, group, neuron) counts are accumulated with one ``bincount`` per property.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.activated import topk_indices
from speechneurons.errors import BadInputError
from speechneurons.phones import PHONE_TYPES, PHONES, normalize_phone

log = logging.getLogger(__name__)

PROPERTIES = ("phone_type", "gender", "pitch")
GENDERS = ("F", "M")
INDEX_COLUMNS = ("phone", "gender", "pitch_bin")
# matplotlib-venn's venn3 order of EXCLUSIVE regions, as membership bits (A, B, C).
VENN3_ORDER = ("100", "010", "110", "001", "101", "011", "111")


# --------------------------------------------------------------------------- groups


def property_groups(n_pitch_bins: int) -> dict[str, tuple[str, ...]]:
    """Group names of every property, in output order."""
    return {
        "phone_type": tuple(PHONE_TYPES),
        "gender": GENDERS,
        "pitch": tuple(str(b) for b in range(n_pitch_bins)),
    }


def group_universe(prop: str, group: str) -> tuple[str, ...]:
    """The phones C_g may contain: the group's own phones (phone type) or all 39."""
    return tuple(PHONE_TYPES[group]) if prop == "phone_type" else PHONES


def tau_from_fraction(tau_fraction: float, D: int) -> int:
    """tau = round half up of tau_fraction * D, at least 1 and at most D."""
    return int(min(D, max(1, math.floor(tau_fraction * D + 0.5))))


@dataclass(frozen=True)
class PropertySettings:
    """Keys of the ``properties`` config section that change the statistic
    (schemas/properties.schema.yaml has their meanings and defaults)."""

    tau_fraction: float
    sigma: float
    min_count: int
    splits: tuple[str, ...]
    selection: str
    fdr_q: float


@dataclass
class FrameLabels:
    """Per-row labels of the dump: phone index (-1 = not used) and group index per property."""

    phone: np.ndarray  # int64 [n]: index into PHONES, -1 for rows left out
    groups: dict[str, np.ndarray]  # property -> int64 [n]: group index, -1 = no group
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> rows skipped as bad input

    @property
    def n_used(self) -> int:
        return int((self.phone >= 0).sum())


def frame_labels(
    index: pd.DataFrame,
    n_pitch_bins: int,
    on_bad_input: str = "error",
    path: str | Path = "index_mid.parquet",
    splits: Sequence[str] = (),
) -> FrameLabels:
    """Map the dump's index rows to phone and group indices.

    Rows are left out (not an error) when they are not middle frames, are silence or spoken
    noise, or lie outside ``splits`` (empty = all). Bad rows (unknown phone label, gender not
    F/M, pitch_bin outside -1..n_pitch_bins-1) raise BadInputError, or with
    ``on_bad_input='skip'`` are left out and counted per reason.
    """
    missing = [c for c in INDEX_COLUMNS if c not in index.columns]
    if missing:
        raise BadInputError(
            path,
            f"index lacks columns {missing}",
            "rerun the activation dump; its index must have phone, gender and pitch_bin",
        )
    n = len(index)
    bad: dict[str, np.ndarray] = {}

    labels = index["phone"].astype(str).to_numpy()
    uniq, inv = np.unique(labels, return_inverse=True)
    norm = []
    for lab in uniq:
        try:
            norm.append(normalize_phone(lab))
        except ValueError:
            norm.append(None)
    phone_of = {p: i for i, p in enumerate(PHONES)}
    code = np.array([phone_of.get(p, -1) if p is not None else -2 for p in norm], dtype=np.int64)
    phone = code[inv] if n else np.zeros(0, dtype=np.int64)
    bad["phone label outside the 39 phones, sil and spn"] = phone == -2
    phone = np.where(phone < 0, -1, phone)

    # Rows that would enter the statistics (speech, middle frame, chosen split); gender and
    # pitch labels are checked on these only.
    candidate = phone >= 0
    if "is_mid" in index.columns:
        candidate &= index["is_mid"].astype(bool).to_numpy()
    if splits:
        if "split" not in index.columns:
            raise BadInputError(
                path,
                "index has no split column but properties.splits is set",
                "rerun the activation dump, or set properties.splits: []",
            )
        present = sorted(set(index["split"].astype(str)))
        if n and not set(splits) & set(present):
            raise BadInputError(
                path,
                f"properties.splits {list(splits)} names no split of the dump's utterances ({', '.join(present)}), "
                "so no frame would enter the statistics",
                "Set properties.splits to splits the corpus has (train, test), or [] for all",
            )
        candidate &= index["split"].astype(str).isin(list(splits)).to_numpy()

    gender = index["gender"].astype(str).to_numpy()
    g_idx = np.full(n, -1, dtype=np.int64)
    for i, g in enumerate(GENDERS):
        g_idx[gender == g] = i
    bad["gender not F/M"] = candidate & (g_idx < 0)

    pb = pd.to_numeric(index["pitch_bin"], errors="coerce").to_numpy(dtype=np.float64)
    ok_pb = np.isfinite(pb) & (pb == np.round(pb)) & (pb >= -1) & (pb < n_pitch_bins)
    bad[f"pitch_bin outside -1..{n_pitch_bins - 1}"] = candidate & ~ok_pb
    pitch = np.where(ok_pb, np.nan_to_num(pb, nan=-1), -1).astype(np.int64)

    skipped = {}
    any_bad = np.zeros(n, dtype=bool)
    for reason, mask in bad.items():
        if mask.any():
            if on_bad_input != "skip":
                first = int(np.flatnonzero(mask)[0])
                raise BadInputError(
                    path,
                    f"{int(mask.sum())} rows with {reason} (first: row {first})",
                    "fix the labels upstream and rerun, or set on_bad_input: skip",
                )
            skipped[reason] = int(mask.sum())
            any_bad |= mask

    use = candidate & ~any_bad
    phone = np.where(use, phone, -1)
    type_of = {p: i for i, t in enumerate(PHONE_TYPES) for p in PHONE_TYPES[t]}
    ptype = np.array([type_of[p] for p in PHONES], dtype=np.int64)
    groups = {
        "phone_type": np.where(use, ptype[np.maximum(phone, 0)], -1),
        "gender": np.where(use, g_idx, -1),
        "pitch": np.where(use, pitch, -1),
    }
    return FrameLabels(phone=phone, groups=groups, skipped=skipped)


# --------------------------------------------------------------------------- counting


@dataclass
class ActivationCounts:
    """A[c, g, j] and n[c, g] per property (arrays [39, G, D] and [39, G], int64)."""

    D: int
    tau: int
    active: dict[str, np.ndarray]
    frames: dict[str, np.ndarray]
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass
class TopNeurons:
    """The expensive half of the statistic: for every used row, its top-tau neurons."""

    rows: np.ndarray
    """int64 [m]: rows of the dump (and of the labels) that enter the statistic."""
    top: np.ndarray
    """int64 [m, tau]: the activated neurons of each of those rows."""
    D: int
    tau: int
    skipped: dict[str, int] = field(default_factory=dict)


def top_neurons(
    acts: np.ndarray,
    labels: FrameLabels,
    tau: int,
    chunk_rows: int = 4096,
    device: str = "cpu",
    on_bad_input: str = "error",
    path: str | Path = "mid.npy",
) -> TopNeurons:
    """The top-tau neurons of every used row, streamed over row chunks of ``acts`` ([n, D], any
    float dtype, may be a memmap). Rows with a non-finite activation are bad input (error, or
    skipped and counted)."""
    import torch

    n, D = acts.shape
    if len(labels.phone) != n:
        raise BadInputError(
            path,
            f"{n} activation rows but {len(labels.phone)} index rows",
            "rerun the activation dump so that the array and its index match",
        )
    if not 1 <= tau <= D:
        raise ValueError(f"tau = {tau} must lie in 1..D = {D}")
    dev = torch.device(device)
    used, tops = [], []
    skipped = dict(labels.skipped)
    n_bad = 0
    for start in range(0, n, chunk_rows):
        stop = min(n, start + chunk_rows)
        rows = np.flatnonzero(labels.phone[start:stop] >= 0)
        if rows.size == 0:
            continue
        block = np.array(acts[start:stop])  # a writable copy of the chunk read from the memmap
        if rows.size < stop - start:
            block = block[rows]
        x = torch.from_numpy(block).to(dev).float()
        finite = torch.isfinite(x.sum(dim=1))  # a float16 row sums finitely in float32 iff all finite
        if not bool(finite.all()):
            bad = (~finite).nonzero().squeeze(1).cpu().numpy()
            if on_bad_input != "skip":
                raise BadInputError(
                    path,
                    f"non-finite activations in row {start + int(rows[bad[0]])}",
                    "redo the activation dump (check the model for overflow), or set on_bad_input: skip",
                )
            n_bad += len(bad)
            keep = finite.cpu().numpy()
            rows, x = rows[keep], x[finite]
            if rows.size == 0:
                continue
        used.append(start + rows)
        tops.append(topk_indices(x, tau).cpu().numpy())
    if n_bad:
        skipped["non-finite activations"] = n_bad
    rows = np.concatenate(used) if used else np.zeros(0, np.int64)
    top = np.concatenate(tops) if tops else np.zeros((0, tau), np.int64)
    return TopNeurons(rows.astype(np.int64), top.astype(np.int64), D, tau, skipped)


def set_counts(property_neurons: Mapping[str, Iterable[int]]) -> dict[str, int]:
    """Sizes of the property-neuron sets: ``n_<prop>``, the pairwise overlaps
    ``overlap_<a>_<b>`` = |P_a & P_b| and ``overlap_all`` = |P_phone & P_gender & P_pitch|."""
    pn = {p: set(property_neurons[p]) for p in PROPERTIES}
    row = {f"n_{p}": len(pn[p]) for p in PROPERTIES}
    for i, a in enumerate(PROPERTIES):
        for b in PROPERTIES[i + 1 :]:
            row[f"overlap_{a}_{b}"] = len(pn[a] & pn[b])
    row["overlap_all"] = len(pn["phone_type"] & pn["gender"] & pn["pitch"])
    return row


def count_top(
    top: TopNeurons, labels: FrameLabels, n_groups: Mapping[str, int], weights: np.ndarray | None = None
) -> ActivationCounts:
    """The counts A[c, g, j] and n[c, g] of every property from the top neurons of each row and
    the rows' labels (cheap: bincounts; the same top neurons serve permuted labels too).
    ``weights``: an integer multiplicity per row of the labels (a bootstrap resample), or None."""
    C, D = len(PHONES), top.D
    phone = labels.phone[top.rows]
    w = None if weights is None else np.asarray(weights, dtype=np.float64)[top.rows]
    active, frames = {}, {}
    for prop, G in n_groups.items():
        grp = labels.groups[prop][top.rows]
        ok = (grp >= 0) & (phone >= 0)
        key = phone[ok] * G + grp[ok]  # (phone, group) cell of each row
        wk = None if w is None else w[ok]
        frames[prop] = np.rint(np.bincount(key, wk, minlength=C * G)).reshape(C, G).astype(np.int64)
        cells = (key[:, None] * D + top.top[ok]).ravel()
        wc = None if wk is None else np.repeat(wk, top.top.shape[1])
        active[prop] = np.rint(np.bincount(cells, wc, minlength=C * G * D)).reshape(C, G, D).astype(np.int64)
    return ActivationCounts(D=D, tau=top.tau, active=active, frames=frames, skipped=dict(top.skipped))


def count_activations(
    acts: np.ndarray,
    labels: FrameLabels,
    tau: int,
    n_groups: Mapping[str, int],
    chunk_rows: int = 4096,
    device: str = "cpu",
    on_bad_input: str = "error",
    path: str | Path = "mid.npy",
) -> ActivationCounts:
    """A[c, g, j] and n[c, g] of every property: :func:`top_neurons`, then :func:`count_top`."""
    return count_top(top_neurons(acts, labels, tau, chunk_rows, device, on_bad_input, path), labels, n_groups)


def permuted_labels(labels: FrameLabels, utterances: np.ndarray, seed: int) -> FrameLabels:
    """The labels of a null model: frame-level labels (phone, hence phone type, and pitch bin)
    shuffled among the frames of each utterance, and the utterance-level label (gender) shuffled
    across utterances. The utterances' phone mix, speakers and sizes stay; only the link
    between a frame's activations and its labels is broken. ``utterances``: an utterance code per row."""
    rng = np.random.default_rng(seed)
    n = len(labels.phone)
    _, first, utt_code = np.unique(np.asarray(utterances), return_index=True, return_inverse=True)
    order = np.argsort(utt_code, kind="stable")
    cuts = np.flatnonzero(np.diff(utt_code[order])) + 1
    perm_phone, perm_pitch = np.arange(n), np.arange(n)
    for block in np.split(order, cuts):
        perm_phone[block] = rng.permutation(block)
        perm_pitch[block] = rng.permutation(block)
    shuffled = rng.permutation(labels.groups["gender"][first])
    used = labels.phone >= 0
    groups = {
        "phone_type": np.where(used, labels.groups["phone_type"][perm_phone], -1),
        "gender": np.where(used, shuffled[utt_code], -1),
        "pitch": np.where(used, labels.groups["pitch"][perm_pitch], -1),
    }
    phone = np.where(used, labels.phone[perm_phone], -1)
    # a row shuffled onto an unused row's label keeps its own "unused" status
    phone = np.where(used & (phone < 0), -1, phone)
    return FrameLabels(phone=phone, groups=groups, skipped=dict(labels.skipped))


# --------------------------------------------------------------------------- statistics


def selectivity(active: np.ndarray, frames: np.ndarray, tau: int, D: int) -> np.ndarray:
    """S as a boolean [C, D]: P(j | c, g) > tau / D, i.e. A * D > tau * n (exact; n = 0 -> False)."""
    frames = np.asarray(frames, dtype=np.int64)[:, None]
    return (np.asarray(active, dtype=np.int64) * D > tau * frames) & (frames > 0)


def selectivity_binomial(active: np.ndarray, frames: np.ndarray, tau: int, D: int, in_C: np.ndarray,
                         fdr_q: float) -> np.ndarray:  # fmt: skip
    """S as a boolean [C, D] by a test instead of a threshold: P(j | c, g) above chance tau / D
    with a one-sided binomial test of A activations in n frames (p = P(X >= A), X ~ Bin(n, tau/D)),
    the Benjamini-Hochberg procedure at false-discovery rate ``fdr_q`` over every (c in C_g, j)
    of the group. Phones outside C_g are never selective."""
    from scipy.stats import binom

    active = np.asarray(active, dtype=np.int64)
    frames = np.asarray(frames, dtype=np.int64)
    rows = np.flatnonzero(np.asarray(in_C, dtype=bool) & (frames > 0))
    S = np.zeros(active.shape, dtype=bool)
    if rows.size == 0:
        return S
    p = binom.sf(active[rows] - 1, frames[rows, None], tau / D).ravel()
    m = p.size
    order = np.argsort(p, kind="stable")
    passed = p[order] <= fdr_q * np.arange(1, m + 1) / m
    k = int(np.flatnonzero(passed)[-1]) + 1 if passed.any() else 0
    reject = np.zeros(m, dtype=bool)
    reject[order[:k]] = True
    S[rows] = reject.reshape(len(rows), -1)
    return S


def probabilities(active: np.ndarray, frames: np.ndarray) -> np.ndarray:
    """P(j | c, g) = A / n as float32 [C, D]; NaN for phones with no frame in the group."""
    frames = np.asarray(frames, dtype=np.float64)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        P = np.where(frames > 0, active / np.where(frames > 0, frames, 1), np.nan)
    return P.astype(np.float32)


def ratio_R(S: np.ndarray, in_C: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R_g(j) = |{c in C_g : S[c, j]}| / |C_g| and the numerator, given the C_g mask [C]."""
    n_sel = S[np.asarray(in_C, dtype=bool)].sum(axis=0).astype(np.int64)
    size = int(np.sum(in_C))
    R = n_sel / size if size else np.zeros(S.shape[1])
    return R.astype(np.float64), n_sel


def exclusive_sets(sets: Mapping[str, Iterable[int]]) -> dict[str, list[int]]:
    """E_g = N_g minus the union of every other N_g' (sorted lists)."""
    sets = {g: set(s) for g, s in sets.items()}
    out = {}
    for g, s in sets.items():
        others = set().union(*(t for h, t in sets.items() if h != g))
        out[g] = sorted(s - others)
    return out


def venn3_regions(A: Iterable[int], B: Iterable[int], C: Iterable[int]) -> tuple[int, ...]:
    """Sizes of the EXCLUSIVE regions of three sets in matplotlib-venn's venn3 order
    (Abc, aBc, ABc, abC, AbC, aBC, ABC): e.g. ABc = |A & B - C|, not |A & B|."""
    A, B, C = set(A), set(B), set(C)
    return (
        len(A - B - C),
        len(B - A - C),
        len((A & B) - C),
        len(C - A - B),
        len((A & C) - B),
        len((B & C) - A),
        len(A & B & C),
    )


@dataclass
class LayerProperties:
    """Everything computed for one layer."""

    layer: int
    D: int
    tau: int
    sigma: float
    min_count: int
    groups: dict[str, tuple[str, ...]]
    P: dict[tuple[str, str], np.ndarray]  # [39, D] float32
    active: dict[tuple[str, str], np.ndarray]  # [39, D] int64
    frames: dict[tuple[str, str], np.ndarray]  # [39] int64
    in_C: dict[tuple[str, str], np.ndarray]  # [39] bool
    R: dict[tuple[str, str], np.ndarray]  # [D] float64
    n_selective: dict[tuple[str, str], np.ndarray]  # [D] int64
    group_neurons: dict[str, dict[str, list[int]]]
    exclusive_group_neurons: dict[str, dict[str, list[int]]]
    property_neurons: dict[str, list[int]]
    skipped: dict[str, int] = field(default_factory=dict)
    # property -> why it cannot be computed on these data (fewer than two of its groups have a
    # phone with min_count frames: with one gender, N_F minus an empty N_M is no gender neuron)
    not_computable: dict[str, str] = field(default_factory=dict)

    def neurons_json(self) -> dict:
        """The neurons.json document (0-based neuron indices, sorted)."""
        return {
            "layer": int(self.layer),
            "D": int(self.D),
            "tau": int(self.tau),
            "sigma": float(self.sigma),
            "group_neurons": self.group_neurons,
            "exclusive_group_neurons": self.exclusive_group_neurons,
            "property_neurons": self.property_neurons,
            "not_computable": self.not_computable,
        }


def layer_properties(
    counts: ActivationCounts,
    layer: int,
    sigma: float,
    min_count: int,
    n_pitch_bins: int,
    selection: str = "threshold",
    fdr_q: float = 0.05,
) -> LayerProperties:
    """From the counts A, n to P, S, R_g, N_g, exclusive N_g and property neurons. ``selection``
    'threshold' is the definition (P > tau / D); 'binomial' tests P against tau / D with
    false-discovery control (:func:`selectivity_binomial`)."""
    groups = property_groups(n_pitch_bins)
    D, tau = counts.D, counts.tau
    P, active, frames, in_C, R, n_sel = {}, {}, {}, {}, {}, {}
    group_neurons: dict[str, dict[str, list[int]]] = {}
    for prop, names in groups.items():
        group_neurons[prop] = {}
        for gi, g in enumerate(names):
            key = (prop, g)
            A, n = counts.active[prop][:, gi, :], counts.frames[prop][:, gi]
            universe = np.isin(np.array(PHONES), group_universe(prop, g))
            in_C[key] = universe & (n >= min_count)
            if not in_C[key].any():
                log.warning(
                    "layer %s: group %s=%s has no phone with >= %d frames; no group neurons", layer, prop, g, min_count
                )
            if selection == "binomial":
                S = selectivity_binomial(A, n, tau, D, in_C[key], fdr_q)
            else:
                S = selectivity(A, n, tau, D)
            R[key], n_sel[key] = ratio_R(S, in_C[key])
            P[key], active[key], frames[key] = probabilities(A, n), A, n
            group_neurons[prop][g] = [int(j) for j in np.flatnonzero(R[key] >= sigma)] if in_C[key].any() else []
    exclusive = {prop: exclusive_sets(gs) for prop, gs in group_neurons.items()}
    prop_neurons = {prop: sorted(set().union(*ex.values())) for prop, ex in exclusive.items()}
    not_computable = {}
    for prop, names in groups.items():
        with_data = [g for g in names if in_C[(prop, g)].any()]
        if len(with_data) < 2:
            not_computable[prop] = (
                f"{prop} neurons are not computable on these data: only "
                f"{'group ' + ', '.join(with_data) if with_data else 'no group'} of {', '.join(names)} has a phone "
                f"with >= {min_count} middle frames, and a property needs two groups to compare"
            )
            log.warning("layer %s: %s", layer, not_computable[prop])
            exclusive[prop] = {g: [] for g in names}
            prop_neurons[prop] = []
    return LayerProperties(
        layer=layer,
        D=D,
        tau=tau,
        sigma=sigma,
        min_count=min_count,
        groups=groups,
        P=P,
        active=active,
        frames=frames,
        in_C=in_C,
        R=R,
        n_selective=n_sel,
        group_neurons=group_neurons,
        exclusive_group_neurons=exclusive,
        property_neurons=prop_neurons,
        skipped=dict(counts.skipped),
        not_computable=not_computable,
    )


def layer_top(
    acts: np.ndarray,
    index: pd.DataFrame,
    settings: PropertySettings,
    n_pitch_bins: int,
    chunk_rows: int = 4096,
    device: str = "cpu",
    on_bad_input: str = "error",
    path: str | Path = "mid.npy",
) -> tuple[FrameLabels, TopNeurons]:
    """The labels of the dump's rows and the top-tau neurons of the used rows: everything the
    statistic needs from the activations (the null and the sensitivity runs reuse it)."""
    tau = tau_from_fraction(settings.tau_fraction, int(acts.shape[1]))
    labels = frame_labels(index, n_pitch_bins, on_bad_input, Path(path).with_name("index_mid.parquet"), settings.splits)
    return labels, top_neurons(acts, labels, tau, chunk_rows, device, on_bad_input, path)


def compute_layer(
    acts: np.ndarray,
    index: pd.DataFrame,
    layer: int,
    settings: PropertySettings,
    n_pitch_bins: int,
    chunk_rows: int = 4096,
    device: str = "cpu",
    on_bad_input: str = "error",
    path: str | Path = "mid.npy",
) -> LayerProperties:
    """The whole statistic of one layer from its dump ``acts`` [n, D] and index."""
    return layer_statistic(acts, index, layer, settings, n_pitch_bins, chunk_rows, device, on_bad_input, path)[0]


def layer_statistic(
    acts: np.ndarray,
    index: pd.DataFrame,
    layer: int,
    settings: PropertySettings,
    n_pitch_bins: int,
    chunk_rows: int,
    device: str,
    on_bad_input: str,
    path: str | Path,
) -> tuple[LayerProperties, np.ndarray, np.ndarray]:
    """:func:`compute_layer` with the frame labels and top neurons it counted (the properties job
    resamples them for the chance levels): ``(properties, labels, top)``."""
    labels, top = layer_top(acts, index, settings, n_pitch_bins, chunk_rows, device, on_bad_input, path)
    n_groups = {p: len(g) for p, g in property_groups(n_pitch_bins).items()}
    lp = layer_properties(
        count_top(top, labels, n_groups),
        layer,
        settings.sigma,
        settings.min_count,
        n_pitch_bins,
        settings.selection,
        settings.fdr_q,
    )
    return lp, labels, top
