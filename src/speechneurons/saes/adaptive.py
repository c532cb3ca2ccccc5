"""Adaptive computation of the SAEs (Ayonrinde 2024): do harder tokens receive more latents?

Every SAE of a layer is evaluated on the same held-out rows (:mod:`.stage`), and each
evaluation keeps every row's L0, squared reconstruction error and squared deviation from the
held-out mean (:mod:`.evaluation`).

- **Difficulty** of a token: TopK's squared reconstruction error ||x - x_hat||^2 of that token
  at the main k. TopK gives every token exactly k latents, so its error measures how hard the
  token is to reconstruct with a fixed budget; the adaptive SAEs at the same k spend the same
  mean L0 (mutual choice exactly, feature choice up to its inference rule; the table gives
  both mean L0s).
- **Effect**: Spearman's partial rank correlation between an adaptive SAE's per-token L0 and
  the difficulty given the token's size, its squared deviation from the held-out mean
  ||x - mean||^2 (``token_dev``), pooled over the held-out tokens: the ranks of L0 and of the
  difficulty are each regressed on the ranks of the size and the residuals correlated. Both
  an adaptive SAE's L0 and TopK's error grow with the token's size on any data (larger
  pre-activations pass more thresholds; a fixed budget leaves a larger error), so the plain
  correlation "held" on Gaussian activations without a dictionary (rho 0.63, while L0 and the
  size correlate at 0.79: docs/positive-controls.md, section 4). The relative error
  ||x - x_hat||^2 / ||x - mean||^2 is no cure: it is scale-free per token but correlates with
  the size itself, with a sign that depends on the data (-0.53 on the Gaussian twin, +0.22 on
  the planted dictionary), which carries the size into the correlation with the opposite
  sign. The partial correlation asks what the claim asks: among tokens of the same size, do
  the harder ones get more latents?
- **Chance range**: the central ``level`` range of the same partial correlation with the
  difficulty's residual ranks shuffled among the frames of each utterance (a permutation
  WITHIN utterances): what remains is the correlation that utterance-level differences
  (loudness, speaker, length) give alone.
- **Interval**: percentile bootstrap over utterances (:func:`speechneurons.stats.resample_index`),
  the partial correlation recomputed (ranks and regression) on every resample.

Where the latents go in speech (no paper has it): the mean L0 per token by frame class
(silence, vowel, voiced and unvoiced consonant: :data:`speechneurons.phones.PHONE_TYPES`) and by
distance to the nearest phone boundary (frames from the nearest frame of another phone in the
same utterance; the utterance's ends are no boundary), each with a bootstrap interval over
utterances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from speechneurons.phones import PHONE_TO_TYPE, SILENCE, normalize_phone
from speechneurons.stats import percentile_interval, rank_p_value, resample_index, resample_weights

#: Frame classes of the L0 table, in the order of the figure.
FRAME_CLASSES = ("silence", "vowel", "voiced_consonant", "unvoiced_consonant")
#: Distances to a phone boundary (frames) of the table; the last bin holds this many or more.
MAX_DISTANCE = 5


def _rank_residuals(values: np.ndarray, control: np.ndarray | None) -> np.ndarray:
    """Ranks of ``values`` minus their least-squares line on the ranks of ``control`` (an
    intercept and a slope); the centred ranks without ``control``."""
    r = rankdata(values)
    r = r - r.mean()
    if control is None:
        return r
    c = rankdata(control)
    c = c - c.mean()
    cc = float(c @ c)
    return r - (float(r @ c) / cc) * c if cc > 0 else r


def _partial_spearman(x: np.ndarray, y: np.ndarray, control: np.ndarray | None) -> float:
    """Spearman's rho of ``x`` and ``y`` given ``control`` (the correlation of their rank
    residuals, :func:`_rank_residuals`); the plain rho without ``control``. NaN when either
    residual is constant or with fewer than 4 values."""
    if len(x) < 4:
        return float("nan")
    ex, ey = _rank_residuals(x, control), _rank_residuals(y, control)
    sx, sy = float(np.sqrt(ex @ ex)), float(np.sqrt(ey @ ey))
    if sx < 1e-9 * len(x) or sy < 1e-9 * len(x):
        return float("nan")
    return float(ex @ ey / (sx * sy))


def within_group_permutations(groups: np.ndarray, n: int, seed) -> np.ndarray:
    """[n, rows] index arrays, each a random permutation of the rows that moves every row only
    among the rows of its own group (seeded)."""
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    codes = codes.astype(np.float64)
    rng = np.random.default_rng(seed)
    base = np.argsort(codes, kind="stable")  # rows sorted by group
    out = np.empty((n, len(codes)), dtype=np.int64)
    for i in range(n):
        out[i, base] = np.argsort(codes + rng.random(len(codes)))  # sorted by group, random within
    return out


def adaptive_correlation(
    l0, difficulty, groups, permutations: int, resamples: int, seed: int, level: float, size=None
) -> dict[str, float]:
    """The effect of the module docstring for one adaptive SAE: ``rho`` (the partial rank
    correlation given ``size``; the plain Spearman rho without it) with its bootstrap interval
    over groups (``ci_low``, ``ci_high``), the chance range under the within-group permutation
    (``chance_low``, ``chance_high``) and its rank p-value ``p`` (one-sided, rho above its
    null), ``n_tokens`` and ``n_groups``."""
    l0 = np.asarray(l0, dtype=np.float64)
    difficulty = np.asarray(difficulty, dtype=np.float64)
    size = None if size is None else np.asarray(size, dtype=np.float64)
    _, codes = np.unique(np.asarray(groups), return_inverse=True)
    if not (len(l0) == len(difficulty) == len(codes)) or (size is not None and len(size) != len(l0)):
        raise ValueError("l0, difficulty, size and groups must have one value per token")
    out = dict(n_tokens=int(len(l0)), n_groups=int(codes.max() + 1) if len(codes) else 0)
    rho = _partial_spearman(l0, difficulty, size)
    nan = float("nan")
    if not np.isfinite(rho):
        return out | dict(rho=nan, ci_low=nan, ci_high=nan, chance_low=nan, chance_high=nan, p=nan)
    # null: the difficulty's rank residuals permuted within utterances
    ex, ey = _rank_residuals(l0, size), _rank_residuals(difficulty, size)
    zx, zy = ex / np.sqrt(ex @ ex), ey / np.sqrt(ey @ ey)
    null = np.array([float(zx @ zy[perm]) for perm in within_group_permutations(codes, permutations, seed)])
    chance_low, chance_high = percentile_interval(null, level)
    # interval: utterances drawn with replacement
    rows_of = np.split(np.argsort(codes, kind="stable"), np.cumsum(np.bincount(codes))[:-1])
    boot = []
    for draw in resample_index(len(rows_of), resamples, seed):
        rows = np.concatenate([rows_of[g] for g in draw])
        boot.append(_partial_spearman(l0[rows], difficulty[rows], None if size is None else size[rows]))
    ci_low, ci_high = percentile_interval(boot, level)
    p = rank_p_value(rho, null) if permutations else nan
    return out | dict(rho=rho, ci_low=ci_low, ci_high=ci_high, chance_low=chance_low, chance_high=chance_high, p=p)


def frame_class(phone: str) -> str:
    """'silence', the phone type of a speech phone, or 'other' (spoken noise, unknown)."""
    p = normalize_phone(str(phone))
    if p == SILENCE:
        return "silence"
    return PHONE_TO_TYPE.get(p, "other")


def boundary_distance(labels: pd.DataFrame) -> pd.DataFrame:
    """Per labelled frame (``utt_id, frame, phone``: one row per model frame of each utterance),
    its distance in frames to the nearest phone boundary: 0 on the first or last frame of a
    phone segment that meets another phone, n when n frames separate it from such a frame. The
    utterance's first and last frames are no boundary; an utterance of one segment gives NaN.
    Returns ``utt_id, frame, boundary_distance``."""
    df = labels[["utt_id", "frame", "phone"]].sort_values(["utt_id", "frame"], kind="stable").reset_index(drop=True)
    utt = df["utt_id"].astype(str).to_numpy()
    phone = df["phone"].map(lambda p: normalize_phone(str(p))).to_numpy()
    n = len(df)
    new_utt = np.ones(n, dtype=bool)
    new_utt[1:] = utt[1:] != utt[:-1]
    new_seg = new_utt.copy()
    new_seg[1:] |= phone[1:] != phone[:-1]
    seg = np.cumsum(new_seg) - 1
    pos = np.arange(n)
    start = np.flatnonzero(new_seg)
    end = np.append(start[1:], n) - 1  # last row of each segment
    from_start = pos - start[seg]
    to_end = end[seg] - pos
    # a segment edge is a boundary only when another phone of the same utterance lies beyond it
    starts_utt = new_utt[start]
    ends_utt = np.append(new_utt[1:], True)[end]
    d_start = np.where(starts_utt[seg], np.inf, from_start)
    d_end = np.where(ends_utt[seg], np.inf, to_end)
    d = np.minimum(d_start, d_end)
    return df.assign(boundary_distance=np.where(np.isfinite(d), d, np.nan))[["utt_id", "frame", "boundary_distance"]]


def token_frames(index: pd.DataFrame, held_rows: np.ndarray, labels: pd.DataFrame | None) -> pd.DataFrame:
    """The held-out tokens (rows ``held_rows`` of the dump index: ``utt_id, frame, phone``), in
    that order, with their frame class and, when ``labels`` (frame labels of every model frame)
    are given, their distance to a phone boundary."""
    tok = index.iloc[np.asarray(held_rows)][["utt_id", "frame", "phone"]].reset_index(drop=True)
    tok["utt_id"] = tok["utt_id"].astype(str)
    tok["frame_class"] = tok["phone"].map(frame_class)
    if labels is None:
        return tok.assign(boundary_distance=np.nan)
    dist = boundary_distance(labels).assign(utt_id=lambda d: d["utt_id"].astype(str))
    dist["frame"] = dist["frame"].astype(np.int64)
    tok["frame"] = tok["frame"].astype(np.int64)
    return tok.merge(dist, on=["utt_id", "frame"], how="left", validate="many_to_one")


def l0_by_frame(
    tokens: pd.DataFrame, l0: dict[str, np.ndarray], resamples: int, seed: int, level: float
) -> pd.DataFrame:
    """Mean L0 per token by frame class and by distance to a phone boundary (module docstring),
    one row per (architecture, grouping, level): ``n_tokens``, ``l0_mean`` with its bootstrap
    interval over utterances, and ``relative``: l0_mean over the SAE's mean L0 on all tokens.
    ``tokens``: :func:`token_frames`; ``l0``: per architecture, the per-token L0 in that order."""
    _, units = np.unique(tokens["utt_id"].to_numpy(), return_inverse=True)
    w = resample_weights(int(units.max()) + 1, resamples, seed)
    dist = tokens["boundary_distance"].to_numpy(dtype=np.float64)
    cells = [("frame class", c, (tokens["frame_class"] == c).to_numpy()) for c in FRAME_CLASSES]
    for d in range(MAX_DISTANCE + 1):
        mask = dist >= d if d == MAX_DISTANCE else dist == d
        cells.append(("boundary distance", f"{d}+" if d == MAX_DISTANCE else str(d), mask))
    rows = []
    for arch, values in l0.items():
        values = np.asarray(values, dtype=np.float64)
        if len(values) != len(tokens):
            raise ValueError(f"{arch}: {len(values)} per-token L0 for {len(tokens)} tokens")
        overall = float(values.mean())
        for grouping, level_name, mask in cells:
            n = int(mask.sum())
            mean = float(values[mask].mean()) if n else float("nan")
            lo = hi = float("nan")
            if n and resamples:
                lo, hi = percentile_interval(_masked(values, mask, units, w), level)
            rows.append(
                dict(
                    architecture=arch,
                    grouping=grouping,
                    level=level_name,
                    n_tokens=n,
                    l0_mean=mean,
                    l0_ci_low=lo,
                    l0_ci_high=hi,
                    relative=mean / overall if overall else float("nan"),
                )
            )
    return pd.DataFrame(rows)


def _masked(values: np.ndarray, mask: np.ndarray, units: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Bootstrap samples of the mean of ``values[mask]`` (units resampled with weights ``w``)."""
    sums = np.bincount(units[mask], weights=values[mask], minlength=w.shape[1])
    counts = np.bincount(units[mask], minlength=w.shape[1]).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (w @ sums) / (w @ counts)


def adaptive_claims(
    evaluations,
    tokens: dict[int, pd.DataFrame],
    main_k: int,
    adaptive: tuple[str, ...],
    permutations: int,
    resamples: int,
    seed: int,
    level: float,
) -> pd.DataFrame:
    """Rows ``claim == 'adaptive_l0'`` of claims.tsv: per layer (``tokens``: its held-out tokens,
    :func:`token_frames`) and adaptive architecture at ``main_k``, the partial correlation of
    the module docstring (difficulty: TopK's per-token squared error; size: TopK's per-token
    ``token_dev``): ``value`` rho, ``reference`` TopK's mean L0, ``delta`` = rho with its
    interval, ``chance_low`` / ``chance_high`` / ``p_value`` under the within-utterance
    permutation, and ``holds``: the interval above 0 and rho above its chance range. Layers
    whose evaluations kept no per-token arrays (or no per-token size) give no row."""
    rows = []
    for layer, tok in sorted(tokens.items()):
        ref = evaluations.get((layer, "topk", main_k))
        if ref is None or ref.token_sse is None or ref.token_dev is None:
            continue
        for arch in adaptive:
            ev = evaluations.get((layer, arch, main_k))
            if ev is None or ev.token_l0 is None:
                continue
            if len(ev.token_l0) != len(ref.token_sse) or len(ev.token_l0) != len(tok):
                raise ValueError(f"layer {layer}, {arch}: per-token arrays do not match TopK's held-out rows")
            r = adaptive_correlation(
                ev.token_l0,
                ref.token_sse,
                tok["utt_id"].to_numpy(),
                permutations,
                resamples,
                seed,
                level,
                size=ref.token_dev,
            )
            holds = bool(r["ci_low"] > 0 and r["rho"] > r["chance_high"])
            rows.append(
                dict(
                    layer=int(layer),
                    claim="adaptive_l0",
                    architecture=arch,
                    k=int(main_k),
                    l0_mean=ev.l0_mean,
                    value=r["rho"],
                    reference=ref.l0_mean,
                    delta=r["rho"],
                    delta_ci_low=r["ci_low"],
                    delta_ci_high=r["ci_high"],
                    holds=holds,
                    chance_low=r["chance_low"],
                    chance_high=r["chance_high"],
                    p_value=r["p"],
                    n_tokens=r["n_tokens"],
                )
            )
    return pd.DataFrame(rows)
