"""Canonical correlation analysis by SVD, projection-weighted CCA and its held-out protocol.

Conventions: a *view* is a matrix with one row per sample (frame or segment) and one column
per dimension (neuron, mel bin, one-hot label). ``x`` is usually a model layer, ``y`` the
reference view (log-Mel, CNN output, one-hot labels).

**Small-variance truncation and ridge** (as ankitapasad/layerwise-analysis, ``cca_core.py``).
For a view Z (N x d) with centred columns z_j, let v_j = ||z_j||^2 / (N - 1) be the variance of
column j and m = max_j v_j (the largest entry of the covariance matrix). With a threshold
epsilon, the columns with v_j / m < epsilon are dropped (columns, not singular directions: the
reference's "SVCCA-style" step keeps or drops neurons / mel bins / label columns), and the
same epsilon regularises the rescaled covariance: Sigma = Z^T Z / ((N - 1) m) + epsilon * I.

**CCA by SVD.** Let Z / sqrt((N - 1) m) = U G V^T (thin SVD of the kept, centred columns; the
singular values below the numerical rank tolerance are dropped). Then
Sigma^(-1/2) Z^T = V diag(1 / sqrt(g^2 + epsilon)) G U^T (up to the scalar sqrt((N-1) m)), so
the whitened cross-covariance of the two views is
    M = diag(f_x) U_x^T U_y diag(f_y),   f = g / sqrt(g^2 + epsilon)   (f = 1 without ridge),
and its SVD M = A diag(rho) B^T gives the canonical correlations rho_1 >= rho_2 >= ... and the
projections P_x = A^T diag(1 / sqrt(g_x^2 + epsilon_x)) V_x^T (k x d_x, k = min(rank_x, rank_y)),
P_y likewise with B: the canonical variates of any data are H_x = (X - mean) P_x^T. This is
the reference's computation (covariance, pinv, matrix square roots, SVD) without forming the
covariances; the two agree to rounding (see the tests).

**PWCCA** (Morcos et al. 2018). On a data part with canonical variates H_x, H_y (each part
centred with its own means, as the reference does on held-out parts),
    rho_i = <h_x,i, h_y,i> / (||h_x,i|| ||h_y,i||),
and with Q the orthonormal basis of the weighting view's variates (QR of H_w, in order) and
z_j its centred kept columns,
    alpha_i = sum_j |<q_i, z_j>|,   PWCCA = sum_i alpha_i rho_i / sum_i alpha_i.
The weighting view is, as in the reference, the view with fewer kept columns (``smaller``;
ties go to y); ``x`` / ``y`` force one view and ``mean`` averages both scores. Two deliberate
differences from the reference code, both shape accidents there: the weights use all kept
columns of the weighting view (the reference truncates them to the first k columns) and
centred columns (the reference adds the first k column means back to the variates).

**Held-out protocol** (the reference's ``tools.py``). The samples are split into ``parts``
parts (10: 80/10/10), stratified by label when labels are given (each label's samples are
dealt evenly over the parts, the few left over go to random parts). Each of ``trials`` trials
takes a (dev, test) pair of parts, disjoint from the other trials' pairs, fits CCA on the
other parts for every pair (epsilon_x, epsilon_y) of threshold candidates, keeps the pair with
the best PWCCA on dev and reports the PWCCA of that fit on test. The score is the mean over
trials (the spread is the standard deviation over trials). The reference tries the first 6
pairs of a shuffled list of the 9 pairs of its three smallest candidates; here every pair of
the candidates is tried, which contains those.

**Reduction to the fitting samples** (not in the reference). With ``samples_per_dim`` s > 0,
each view keeps at most floor(n_fit / s) directions of its SVD on a trial's fitting parts (its
leading principal components: PCA of the kept columns, fitted on the fitting parts only), so
that CCA never fits more directions than the samples support. The reference fits CCA on as
many dimensions as the layer has (256) with a few hundred word segments, and its train PWCCA
then far exceeds the held-out one (0.87 against 0.47 on the default run). Views with enough
samples (frames, phone segments on the default run) are not cut.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

log = logging.getLogger(__name__)

#: The reference's threshold list (``get_epsilon_lst`` of ankitapasad/layerwise-analysis).
REFERENCE_THRESHOLD_LIST = (1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5)
#: The candidates the reference actually tries: it shuffles the 9 pairs of the list's first
#: three values, then the 16 pairs of the last four, and stops after 6 pairs that fit, so
#: unless a fit fails it never leaves the first three.
REFERENCE_THRESHOLDS = REFERENCE_THRESHOLD_LIST[:3]
WEIGHTINGS = ("smaller", "x", "y", "mean")


class CCAFit(NamedTuple):
    """Canonical directions fitted on one data part."""

    kept_x: np.ndarray
    """bool [d_x]: columns of x above the variance threshold."""
    kept_y: np.ndarray
    """bool [d_y]: columns of y above the variance threshold."""
    proj_x: np.ndarray
    """[k, kept_x.sum()]: canonical variates of x are (x[:, kept_x] - mean) @ proj_x.T."""
    proj_y: np.ndarray
    """[k, kept_y.sum()]: the same for y."""
    correlations: np.ndarray
    """[k] canonical correlations on the fitting data (with the ridge), decreasing."""
    eps_x: float
    """Threshold and ridge of x."""
    eps_y: float
    """Threshold and ridge of y."""


class PWCCAScore(NamedTuple):
    """PWCCA of a fit evaluated on one data part."""

    score: float
    """Projection-weighted mean of the correlations (nan when there is no direction)."""
    correlations: np.ndarray
    """[k] correlation of each canonical pair on this part."""
    weights: np.ndarray
    """[k] alpha_i / sum alpha (of the weighting view; the average of both for ``mean``)."""
    weight_view: str
    """'x', 'y' or 'mean': the view whose variates weighted the correlations."""


class Trial(NamedTuple):
    """One cross-validation trial."""

    dev_part: int
    """Index of the part that chose the thresholds."""
    test_part: int
    """Index of the part that scored the chosen fit."""
    eps_x: float
    """Chosen threshold of x."""
    eps_y: float
    """Chosen threshold of y."""
    train_score: float
    """PWCCA of the chosen fit on its own training parts (in-sample)."""
    dev_score: float
    """PWCCA of the chosen fit on the dev part (the best over the candidate pairs)."""
    test_score: float
    """PWCCA of the chosen fit on the test part: the trial's held-out score."""
    n_directions: int
    """Canonical directions k of the chosen fit."""
    kept_x: int
    """Columns of x kept by the chosen threshold."""
    kept_y: int
    """Columns of y kept by the chosen threshold."""


class CrossValidatedPWCCA(NamedTuple):
    """Held-out PWCCA of two views, over several trials."""

    mean: float
    """Mean test score over the trials: the reported PWCCA."""
    std: float
    """Standard deviation of the test scores over the trials (ddof 0; 0 for one trial)."""
    trials: list[Trial]
    """Every trial, in order."""
    n_samples: int
    """Rows of the two views."""


# ----------------------------------------------------------------------------- CCA


class _Whitened(NamedTuple):
    kept: np.ndarray  # bool [d]
    u: np.ndarray  # [N, r] left singular vectors of the scaled, centred kept columns
    g: np.ndarray  # [r] singular values (of Z / sqrt((N-1) m))
    vt: np.ndarray  # [r, kept.sum()]


def _variance_mask(z: np.ndarray, eps: float) -> np.ndarray:
    """Columns j with v_j / max_j v_j >= eps (none when every column is constant)."""
    var = z.var(axis=0, ddof=1)
    top = var.max() if var.size else 0.0
    if not top > 0:
        return np.zeros(z.shape[1], dtype=bool)
    return var / top >= eps


def _svd_of_kept(z: np.ndarray, kept: np.ndarray) -> _Whitened:
    n = z.shape[0]
    zk = z[:, kept]
    zk = zk - zk.mean(axis=0)
    scale = zk.var(axis=0, ddof=1).max() if zk.shape[1] else 0.0
    if zk.shape[1] == 0 or not scale > 0:
        return _Whitened(kept, np.zeros((n, 0)), np.zeros(0), np.zeros((0, int(kept.sum()))))
    u, g, vt = np.linalg.svd(zk / np.sqrt((n - 1) * scale), full_matrices=False)
    rank = g > g[0] * max(zk.shape) * np.finfo(float).eps
    return _Whitened(kept, u[:, rank], g[rank], vt[rank])


def _fit_from_svds(wx: _Whitened, wy: _Whitened, eps_x: float, eps_y: float, cross: np.ndarray | None = None) -> CCAFit:
    """CCA from the two SVDs; ``cross`` = U_x^T U_y when already computed."""
    inv_x, inv_y = 1.0 / np.sqrt(wx.g**2 + eps_x), 1.0 / np.sqrt(wy.g**2 + eps_y)
    if cross is None:
        cross = wx.u.T @ wy.u
    m = (wx.g * inv_x)[:, None] * cross * (wy.g * inv_y)[None, :]
    k = min(m.shape)
    if k == 0:
        return CCAFit(
            wx.kept,
            wy.kept,
            np.zeros((0, int(wx.kept.sum()))),
            np.zeros((0, int(wy.kept.sum()))),
            np.zeros(0),
            eps_x,
            eps_y,
        )
    a, rho, bt = np.linalg.svd(m, full_matrices=False)
    proj_x = (a[:, :k] * inv_x[:, None]).T @ wx.vt
    proj_y = (bt[:k].T * inv_y[:, None]).T @ wy.vt
    return CCAFit(wx.kept, wy.kept, proj_x, proj_y, rho[:k], eps_x, eps_y)


def _as_views(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"views must be 2-D with the same number of rows, got {x.shape} and {y.shape}")
    if x.shape[0] < 3:
        raise ValueError(f"CCA needs at least 3 samples, got {x.shape[0]}")
    return x, y


def fit_cca(x, y, eps_x: float = 0.0, eps_y: float = 0.0) -> CCAFit:
    """CCA of views x [N, d_x] and y [N, d_y] with the reference's threshold and ridge
    (module docstring); ``eps = 0`` is plain CCA on the columns of non-zero variance."""
    x, y = _as_views(x, y)
    wx = _svd_of_kept(x, _variance_mask(x, eps_x))
    wy = _svd_of_kept(y, _variance_mask(y, eps_y))
    return _fit_from_svds(wx, wy, eps_x, eps_y)


def _column_correlations(hx: np.ndarray, hy: np.ndarray) -> np.ndarray:
    num = np.einsum("ni,ni->i", hx, hy)
    den = np.sqrt(np.einsum("ni,ni->i", hx, hx) * np.einsum("ni,ni->i", hy, hy))
    out = np.zeros_like(num)
    np.divide(num, den, out=out, where=den > 0)
    return out


def projection_weights(variates: np.ndarray, view: np.ndarray) -> np.ndarray:
    """alpha_i / sum(alpha): alpha_i = sum_j |<q_i, z_j>| with Q the QR basis of the variates
    [N, k] and z_j the centred columns of ``view`` [N, d] (Morcos et al. 2018). With fewer
    samples than directions (N < k) the directions after the N-th have no component left
    after orthogonalisation and get alpha = 0."""
    k = variates.shape[1]
    if k == 0:
        return np.zeros(0)
    q, _ = np.linalg.qr(variates)
    alpha = np.zeros(k)
    alpha[: q.shape[1]] = np.abs(q.T @ (view - view.mean(axis=0))).sum(axis=1)
    total = alpha.sum()
    return alpha / total if total > 0 else np.full(len(alpha), 1.0 / len(alpha))


def pwcca(fit: CCAFit, x, y, weights: str = "smaller") -> PWCCAScore:
    """PWCCA of ``fit`` on the data part (x, y) (module docstring). ``weights``: 'smaller' (the
    view with fewer kept columns; ties go to y), 'x', 'y' or 'mean' (mean of both scores)."""
    x, y = _as_views(x, y)
    xk, yk = x[:, fit.kept_x], y[:, fit.kept_y]
    return _score(fit, xk - xk.mean(axis=0), yk - yk.mean(axis=0), weights)


def _weight_view(weights: str, kept_x: int, kept_y: int) -> str:
    if weights not in WEIGHTINGS:
        raise ValueError(f"weights must be one of {WEIGHTINGS}, got {weights!r}")
    if weights == "smaller":
        return "x" if kept_x < kept_y else "y"
    return weights


def _combine(rho: np.ndarray, view: str, wx: np.ndarray | None, wy: np.ndarray | None) -> PWCCAScore:
    if view == "mean":
        return PWCCAScore(float((wx @ rho + wy @ rho) / 2), rho, (wx + wy) / 2, "mean")
    w = wx if view == "x" else wy
    return PWCCAScore(float(w @ rho), rho, w, view)


def _score(fit: CCAFit, xc: np.ndarray, yc: np.ndarray, weights: str) -> PWCCAScore:
    """PWCCA on centred kept columns xc [N, kept_x], yc [N, kept_y]."""
    view = _weight_view(weights, int(fit.kept_x.sum()), int(fit.kept_y.sum()))
    hx, hy = xc @ fit.proj_x.T, yc @ fit.proj_y.T
    rho = _column_correlations(hx, hy)
    if len(rho) == 0:
        return PWCCAScore(float("nan"), rho, rho.copy(), view)
    wx = projection_weights(hx, xc) if view in ("x", "mean") else None
    wy = projection_weights(hy, yc) if view in ("y", "mean") else None
    return _combine(rho, view, wx, wy)


def _in_sample_score(
    wx: _Whitened, wy: _Whitened, eps_x: float, eps_y: float, weights: str, cross: np.ndarray | None = None
) -> float:
    """PWCCA of the fit on its own fitting data, from the two SVDs alone.

    There the variates are H_x = c U_x diag(f_x) A (c a scalar), so the correlation of pair i
    is rho_i / (||f_x * a_i|| ||f_y * b_i||), the QR basis of H_x is U_x Q' with Q' R = diag(f_x) A,
    and the weights are sum_j |(Q'^T diag(g_x) V_x^T)_ij| (U_x^T Z = c diag(g_x) V_x^T)."""
    fx, fy = wx.g / np.sqrt(wx.g**2 + eps_x), wy.g / np.sqrt(wy.g**2 + eps_y)
    if cross is None:
        cross = wx.u.T @ wy.u
    k = min(cross.shape)
    if k == 0:
        return float("nan")
    a, rho, bt = np.linalg.svd(fx[:, None] * cross * fy[None, :], full_matrices=False)
    cx, cy = fx[:, None] * a[:, :k], fy[:, None] * bt[:k].T
    nx, ny = np.linalg.norm(cx, axis=0), np.linalg.norm(cy, axis=0)
    corr = np.zeros(k)
    np.divide(rho[:k], nx * ny, out=corr, where=nx * ny > 0)
    view = _weight_view(weights, int(wx.kept.sum()), int(wy.kept.sum()))

    def alpha(c: np.ndarray, w: _Whitened) -> np.ndarray:
        q, _ = np.linalg.qr(c)
        al = np.abs((q.T * w.g) @ w.vt).sum(axis=1)
        return al / al.sum() if al.sum() > 0 else np.full(k, 1.0 / k)

    return _combine(
        corr, view, alpha(cx, wx) if view in ("x", "mean") else None, alpha(cy, wy) if view in ("y", "mean") else None
    ).score


# ----------------------------------------------------------------------------- protocol


def split_parts(
    n: int, parts: int, labels: Sequence | None = None, seed: int = 0, units: Sequence | None = None
) -> list[np.ndarray]:
    """Indices 0..n-1 dealt into ``parts`` parts, stratified by ``labels`` when given.

    Per label (or for all samples), its samples are shuffled, floor(count / parts) go to every
    part, and the remaining count mod parts go to parts drawn at random (the reference's
    ``chunk``). With ``units`` (the utterance of each sample), whole units are dealt instead:
    in a seeded order, each to the part with the fewest samples so far, so that no utterance
    is in two parts (frames and segments of one utterance are not independent); ``labels``
    are then not used. Each returned index array is sorted.
    """
    if parts < 3:
        raise ValueError(f"parts must be at least 3 (train, dev, test), got {parts}")
    rng = np.random.default_rng(seed)
    if units is not None:
        units = np.asarray(units)
        if len(units) != n:
            raise ValueError(f"{len(units)} units for {n} samples")
        _, inverse = np.unique(units, return_inverse=True)
        members = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)] if n else []
        sizes = np.zeros(parts, dtype=np.int64)
        dealt: list[list[np.ndarray]] = [[] for _ in range(parts)]
        for g in rng.permutation(len(members)):
            p = int(np.argmin(sizes))
            dealt[p].append(members[g])
            sizes[p] += len(members[g])
        return [np.sort(np.concatenate(b)) if b else np.zeros(0, dtype=int) for b in dealt]
    groups: list[np.ndarray]
    if labels is None:
        groups = [np.arange(n)]
    else:
        labels = np.asarray(labels)
        if len(labels) != n:
            raise ValueError(f"{len(labels)} labels for {n} samples")
        _, inverse = np.unique(labels, return_inverse=True)
        groups = [np.flatnonzero(inverse == g) for g in range(inverse.max() + 1)] if n else []
    buckets: list[list[np.ndarray]] = [[] for _ in range(parts)]
    for idx in groups:
        idx = rng.permutation(idx)
        size = len(idx) // parts
        for p in range(parts):
            buckets[p].append(idx[p * size : (p + 1) * size])
        for i in idx[parts * size :]:
            buckets[int(rng.integers(parts))].append(np.array([i]))
    return [np.sort(np.concatenate(b)) if b else np.zeros(0, dtype=int) for b in buckets]


def dev_test_pairs(parts: int, trials: int, seed: int = 0) -> list[tuple[int, int]]:
    """``trials`` (dev, test) pairs of distinct parts, no part used twice (the reference draws
    the pairs without replacement, so at most parts // 2 trials)."""
    if not 1 <= trials <= parts // 2:
        raise ValueError(f"trials must be between 1 and parts // 2 = {parts // 2}, got {trials}")
    order = np.random.default_rng(seed).permutation(parts)
    return [(int(order[2 * t]), int(order[2 * t + 1])) for t in range(trials)]


class CrossValPlan(NamedTuple):
    """How the samples are cut for the held-out protocol (shared by every view of them)."""

    parts: list[np.ndarray]
    """Sorted sample indices of each part."""
    pairs: list[tuple[int, int]]
    """(dev, test) part of each trial."""
    thresholds: tuple[float, ...]
    """Candidate thresholds (each view's epsilon is chosen among them)."""
    samples_per_dim: float = 0.0
    """Fitting samples per kept direction of each view (0: no cap; module docstring)."""

    def train(self, trial: int) -> np.ndarray:
        """Indices of the fitting parts of a trial (every part but its dev and test parts)."""
        dev, test = self.pairs[trial]
        return np.concatenate([p for i, p in enumerate(self.parts) if i not in (dev, test)])

    def max_dims(self, trial: int) -> int | None:
        """Most directions a view keeps in ``trial`` (None: no cap)."""
        if not self.samples_per_dim > 0:
            return None
        return max(1, int(len(self.train(trial)) // self.samples_per_dim))


def crossval_plan(
    n: int,
    *,
    labels: Sequence | None = None,
    parts: int = 10,
    trials: int = 3,
    thresholds: Sequence[float] = REFERENCE_THRESHOLDS,
    seed: int = 0,
    units: Sequence | None = None,
    samples_per_dim: float = 0.0,
) -> CrossValPlan:
    """Parts (whole ``units`` when given, else stratified by ``labels`` when given) and
    (dev, test) pairs of n samples, seeded (:func:`split_parts`); ``samples_per_dim``: the
    reduction of each view to the fitting samples (module docstring; 0 = none)."""
    part_idx = split_parts(n, parts, labels, seed, units)
    if min(len(p) for p in part_idx) < 3:
        raise ValueError(f"{n} samples are too few for {parts} parts of at least 3 samples")
    if samples_per_dim < 0:
        raise ValueError(f"samples_per_dim must be >= 0, got {samples_per_dim}")
    pairs = dev_test_pairs(parts, trials, seed + 1)
    return CrossValPlan(part_idx, pairs, tuple(float(t) for t in thresholds), float(samples_per_dim))


class PreparedView:
    """One view cut by a plan: the SVD of each trial's fitting parts, computed once per kept-
    column mask and reused for every threshold and for every view it is compared with."""

    def __init__(self, z, plan: CrossValPlan):
        self.z = np.asarray(z, dtype=np.float64)
        if self.z.ndim != 2 or self.z.shape[0] != sum(len(p) for p in plan.parts):
            raise ValueError(f"view of shape {self.z.shape} does not match the plan's samples")
        self.plan = plan
        self._train: dict[int, np.ndarray] = {}
        self._svd: dict[tuple[int, bytes], _Whitened] = {}
        self._mask: dict[tuple[int, float], np.ndarray] = {}
        self._centred: dict[tuple[int, bytes], np.ndarray] = {}

    def train(self, trial: int) -> np.ndarray:
        if trial not in self._train:
            self._train[trial] = self.z[self.plan.train(trial)]
        return self._train[trial]

    def part(self, index: int) -> np.ndarray:
        return self.z[self.plan.parts[index]]

    def whitened(self, trial: int, eps: float) -> _Whitened:
        """SVD of the trial's fitting parts, columns kept by ``eps`` (cached per mask)."""
        if (trial, eps) not in self._mask:
            self._mask[(trial, eps)] = _variance_mask(self.train(trial), eps)
        kept = self._mask[(trial, eps)]
        key = (trial, kept.tobytes())
        if key not in self._svd:
            w = _svd_of_kept(self.train(trial), kept)
            cap = self.plan.max_dims(trial)
            if cap is not None and len(w.g) > cap:  # the leading principal components only
                w = _Whitened(w.kept, w.u[:, :cap], w.g[:cap], w.vt[:cap])
            self._svd[key] = w
        return self._svd[key]

    def centred(self, index: int, kept: np.ndarray) -> np.ndarray:
        """Kept columns of part ``index``, centred with the part's own means (cached)."""
        key = (index, kept.tobytes())
        if key not in self._centred:
            zk = self.part(index)[:, kept]
            self._centred[key] = zk - zk.mean(axis=0)
        return self._centred[key]


def crossval_prepared(px: PreparedView, py: PreparedView, weights: str = "smaller") -> CrossValidatedPWCCA:
    """Held-out PWCCA of two views prepared on the same plan (module docstring). Ties between
    candidate pairs go to the earlier pair of ``itertools.product(thresholds, thresholds)``."""
    if px.plan is not py.plan:
        raise ValueError("both views must be prepared on the same plan")
    _weight_view(weights, 0, 0)
    plan = px.plan
    out: list[Trial] = []
    for trial, (dev, test) in enumerate(plan.pairs):
        cross: dict[tuple[int, int], np.ndarray] = {}
        best = None
        for ex, ey in itertools.product(plan.thresholds, plan.thresholds):
            wx, wy = px.whitened(trial, ex), py.whitened(trial, ey)
            key = (id(wx), id(wy))
            if key not in cross:
                cross[key] = wx.u.T @ wy.u
            fit = _fit_from_svds(wx, wy, ex, ey, cross[key])
            score = _score(fit, px.centred(dev, wx.kept), py.centred(dev, wy.kept), weights).score
            if np.isfinite(score) and (best is None or score > best[0]):
                best = (score, fit, wx, wy, cross[key])
        if best is None:
            log.warning("no threshold pair gave a finite dev score (dev %d, test %d)", dev, test)
            out.append(Trial(dev, test, np.nan, np.nan, np.nan, np.nan, np.nan, 0, 0, 0))
            continue
        dev_score, fit, wx, wy, cr = best
        test_score = _score(fit, px.centred(test, wx.kept), py.centred(test, wy.kept), weights).score
        train_score = _in_sample_score(wx, wy, fit.eps_x, fit.eps_y, weights, cr)
        out.append(
            Trial(
                dev,
                test,
                fit.eps_x,
                fit.eps_y,
                train_score,
                dev_score,
                test_score,
                len(fit.correlations),
                int(fit.kept_x.sum()),
                int(fit.kept_y.sum()),
            )
        )
    scores = np.array([t.test_score for t in out], dtype=float)
    finite = scores[np.isfinite(scores)]
    mean = float(finite.mean()) if len(finite) else float("nan")
    std = float(finite.std()) if len(finite) else float("nan")
    return CrossValidatedPWCCA(mean, std, out, len(px.z))


def crossval_pwcca(
    x,
    y,
    *,
    labels: Sequence | None = None,
    parts: int = 10,
    trials: int = 3,
    thresholds: Sequence[float] = REFERENCE_THRESHOLDS,
    weights: str = "smaller",
    seed: int = 0,
    samples_per_dim: float = 0.0,
) -> CrossValidatedPWCCA:
    """Held-out PWCCA of x [N, d_x] and y [N, d_y] with the thresholds chosen on dev parts
    (module docstring). ``labels`` (one per row) stratify the parts; the seed fixes the parts
    and the (dev, test) pairs; ``samples_per_dim``: the reduction to the fitting samples."""
    x, y = _as_views(x, y)
    plan = crossval_plan(
        len(x), labels=labels, parts=parts, trials=trials, thresholds=thresholds, seed=seed,
        samples_per_dim=samples_per_dim,
    )  # fmt: skip
    return crossval_prepared(PreparedView(x, plan), PreparedView(y, plan), weights)
