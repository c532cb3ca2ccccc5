"""Evaluation of a trained SAE on held-out rows (inference rule of its architecture).

- FVU = sum_n ||x_n - x_hat_n||^2 / sum_n ||x_n - mean(x)||^2 (raw units; the input scale
  cancels);
- L0 per token: the number of active (non-zero) latents; its mean, quantiles and histogram;
- latent density: share of held-out tokens on which each latent is active; dead share: latents
  active on none of the held-out rows under the inference rule (:func:`dead_share`, the one
  definition: the training logs use it on their held-out subsample too);
- Zipf fit: a Zipf law over rank, density_r ~ r^-s, is a power law of the firing counts,
  P(c) ~ c^-alpha with alpha = 1 + 1 / s, above some x_min (Clauset, Shalizi & Newman 2009,
  who test rank-frequency laws this way: ranks are read from the same counts, so a fit of the
  rank plot is circular and has no test). :func:`power_law_fit` follows their recipe on the
  alive latents' held-out firing counts: x_min minimising the Kolmogorov-Smirnov distance (at
  least :data:`MIN_TAIL_SHARE` of the latents in the tail), alpha by maximum likelihood on the
  tail, a semi-parametric bootstrap p-value with the same x_min search in every replicate
  (small p: not a power law), and Vuong's likelihood-ratio test against an exponential tail
  (a law that is not rejected but fits no better than an exponential is no evidence of a Zipf
  law). The rank-density slope it implies, -1 / (alpha - 1), is drawn in the figures. x_min
  was fixed at 1 before: the test then rejected an exact Zipf law whose rarest latent fires
  more than once (the SAE positive control, docs/positive-controls.md).

With ``groups`` (an integer code per row, e.g. its utterance), the sums behind FVU, L0 and the
firing counts are also kept per group (:class:`GroupSums`), so that intervals can resample
groups (:mod:`speechneurons.saes.tables`). Every evaluation also keeps each held-out row's L0,
squared reconstruction error and squared deviation from the held-out mean (``token_l0``,
``token_sse``, ``token_dev``): the per-token adaptive
computation of Ayonrinde (2024) is read from them (:mod:`speechneurons.saes.adaptive`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from speechneurons.io import load_npz, write_npz

from .sae import SparseAutoencoder

L0_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


@dataclass(frozen=True)
class ZipfFit:
    """A power law fitted to the alive latents' firing counts (module docstring)."""

    slope: float
    """The rank-density slope the fit implies, -1 / (alpha - 1); NaN with fewer than 2 alive latents."""
    intercept: float
    """log10 of the observed density at rank 1 (where the implied line is anchored)."""
    r2: float
    """Kept for the tables' column order: the parametric-bootstrap p-value of the fit (as ``p_value``)."""
    n_alive: int
    """Latents in the fit (density > 0)."""
    alpha: float = float("nan")
    """Maximum-likelihood exponent of P(c) ~ c^-alpha, c >= x_min firing counts."""
    ks: float = float("nan")
    """Kolmogorov-Smirnov distance between the counts and the fitted law."""
    p_value: float = float("nan")
    """Share of bootstrap samples from the fitted law whose refitted KS distance is at least ``ks``."""
    x_min: float = float("nan")
    """Smallest firing count of the power-law tail (chosen by the smallest KS distance)."""
    n_tail: int = 0
    """Alive latents in the tail (firing count at least ``x_min``)."""
    lr_exponential: float = float("nan")
    """Log-likelihood ratio of the power law over an exponential on the tail (positive: power law)."""
    lr_p: float = float("nan")
    """Vuong's two-sided p-value of that ratio."""


@dataclass(frozen=True)
class GroupSums:
    """Per group of held-out rows (e.g. per utterance): the sums that FVU, L0 and density are
    ratios of. ``dev`` is measured from the mean of all held-out rows, so that
    sum(sse) / sum(dev) over all groups is the FVU."""

    sse: np.ndarray
    """sum over the group's rows of ||x - x_hat||^2, float64 [G]."""
    dev: np.ndarray
    """sum over the group's rows of ||x - mean(x)||^2, float64 [G]."""
    l0: np.ndarray
    """Active latents summed over the group's rows, float64 [G]."""
    rows: np.ndarray
    """Rows of the group, int64 [G]."""
    fired: np.ndarray
    """Rows of the group on which each latent is active, int32 [G, F]."""


@dataclass(frozen=True)
class SaeEvaluation:
    """Held-out metrics of one SAE."""

    architecture: str
    """Selection rule."""
    k: int
    """Budget k of the run."""
    inference: str
    """Inference rule used ('topk', 'threshold' or 'batch')."""
    n_tokens: int
    """Held-out rows evaluated."""
    n_latents: int
    """F."""
    fvu: float
    """Fraction of variance unexplained."""
    l0_mean: float
    """Mean active latents per token."""
    l0_quantiles: dict[float, float]
    """Quantiles of L0 per token at :data:`L0_QUANTILES`."""
    l0_histogram: np.ndarray
    """Tokens with L0 = 0, 1, 2, ... (length max L0 + 1)."""
    dead_share: float
    """Share of latents active on no held-out token."""
    density: np.ndarray
    """Share of held-out tokens on which each latent is active, [F]."""
    zipf: ZipfFit
    """Zipf fit of density against rank."""
    groups: GroupSums | None = None
    """The sums per group of rows, when groups were given."""
    token_l0: np.ndarray | None = None
    """Active latents of each held-out row, int32 [n_tokens] (None when not kept)."""
    token_sse: np.ndarray | None = None
    """||x - x_hat||^2 of each held-out row, float32 [n_tokens] (None when not kept)."""
    token_dev: np.ndarray | None = None
    """||x - mean(x)||^2 of each held-out row (mean over the held-out rows, as in FVU), float32
    [n_tokens]: the token's size, which the adaptive-computation statistic controls for."""

    def summary(self) -> dict:
        """Flat scalars (one table row)."""
        d = dict(
            architecture=self.architecture,
            k=self.k,
            inference=self.inference,
            n_tokens=self.n_tokens,
            n_latents=self.n_latents,
            fvu=self.fvu,
            l0_mean=self.l0_mean,
            dead_share=self.dead_share,
            zipf_slope=self.zipf.slope,
            zipf_alpha=self.zipf.alpha,
            zipf_ks=self.zipf.ks,
            zipf_p=self.zipf.p_value,
            zipf_xmin=self.zipf.x_min,
            zipf_n_tail=self.zipf.n_tail,
            zipf_lr_exponential=self.zipf.lr_exponential,
            zipf_lr_p=self.zipf.lr_p,
            n_alive=self.zipf.n_alive,
        )
        d.update({f"l0_q{int(round(100 * q)):02d}": v for q, v in self.l0_quantiles.items()})
        return d


#: parametric-bootstrap samples of the power-law goodness-of-fit test (a module constant, not a
#: config setting: about 5 CPU-seconds per SAE of 2,048 alive latents at 100)
POWER_LAW_BOOTSTRAP = 100
#: smallest share of the values in the fitted tail: x_min is searched only where at least this
#: share lies at or above it. A power law fitted to the few most frequent latents is no Zipf law of
#: the feature densities, and on a short enough tail even exponential counts pass the test
MIN_TAIL_SHARE = 0.5
#: most x_min candidates searched, spread evenly over the ranks of the distinct values (bounds
#: the cost: the bootstrap repeats the search in every replicate)
MAX_CANDIDATES = 40
_ALPHA_RANGE = (1.0001, 8.0)
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def _hurwitz_zeta(s, q) -> np.ndarray:
    """zeta(s, q) = sum_{x >= 0} (x + q)^-s elementwise: scipy's below q = 10, above it the
    Euler-Maclaurin expansion to four terms (relative error below 1e-8 there, several times faster)."""
    from scipy.special import zeta

    s, q = np.broadcast_arrays(np.asarray(s, dtype=float), np.asarray(q, dtype=float))
    out = np.empty(s.shape)
    small = q < 10.0
    out[small] = zeta(s[small], q[small])
    s, q = s[~small], q[~small]
    t = q**-s
    out[~small] = t * q / (s - 1.0) + t / 2.0 + s * t / (12.0 * q) - s * (s + 1.0) * (s + 2.0) * t / (720.0 * q**3)
    return out


@dataclass(frozen=True)
class PowerLawFit:
    """A discrete power law P(c) ~ c^-alpha on c >= x_min fitted by :func:`power_law_fit`."""

    alpha: float
    """Maximum-likelihood exponent of the tail."""
    ks: float
    """Kolmogorov-Smirnov distance between the tail and the fitted law (the smallest over x_min)."""
    p_value: float
    """Semi-parametric bootstrap goodness-of-fit p-value (small: not a power law)."""
    x_min: float
    """Where the power law starts (chosen by the smallest KS distance)."""
    n_tail: int
    """Values at or above x_min."""
    lr_exponential: float = float("nan")
    """Log-likelihood ratio of the power law over a discrete exponential fitted to the same tail
    (positive: the power law fits better; :func:`_vuong_exponential`)."""
    lr_p: float = float("nan")
    """Two-sided p-value of Vuong's test of that ratio (small: the sign is significant)."""


def _vuong_exponential(tail: np.ndarray, alpha: float, x_min: float) -> tuple[float, float]:
    """Clauset et al.'s (2009, section 5) comparison with an alternative: the log-likelihood ratio
    R of the fitted power law over the maximum-likelihood discrete exponential
    P(c) = (1 - e^-lambda) e^-lambda (c - x_min) on the same tail, and the two-sided p-value of
    Vuong's normalised ratio R / (sqrt(n) sd of the pointwise ratios)."""
    from scipy.special import erfc

    excess = tail - x_min
    if tail.size < 2 or excess.mean() == 0:
        return float("nan"), float("nan")
    lam = np.log1p(1.0 / excess.mean())
    pointwise = (-alpha * np.log(tail) - np.log(_hurwitz_zeta(alpha, x_min))) - (np.log1p(-np.exp(-lam)) - lam * excess)
    sd = pointwise.std()
    r = float(pointwise.sum())
    return r, float(erfc(abs(r) / (np.sqrt(tail.size) * sd) / np.sqrt(2.0))) if sd > 0 else float("nan")


def _tail_fit(c: np.ndarray, min_tail_share: float) -> tuple[float, float, float, int]:
    """Clauset et al.'s x_min search on sorted positive integers ``c``: for each candidate x_min
    (a distinct value with at least the share ``min_tail_share`` of the values at or above it; at most
    :data:`MAX_CANDIDATES`), the maximum-likelihood alpha of the tail c >= x_min (golden-section
    search of the exact discrete log-likelihood -n log zeta(alpha, x_min) - alpha sum log c) and
    the KS distance between the tail's empirical and fitted CDFs at its distinct values.
    Returns (alpha, KS, x_min, n_tail) of the candidate with the smallest KS distance."""
    n = c.size
    values, first = np.unique(c, return_index=True)  # first[j]: values below values[j]
    tail_n = n - first
    ok = np.flatnonzero(tail_n >= min_tail_share * n)
    if ok.size > MAX_CANDIDATES:
        ok = ok[np.unique(np.round(np.linspace(0, ok.size - 1, MAX_CANDIDATES)).astype(int))]
    xmin, nt = values[ok], tail_n[ok].astype(float)
    cum_log = np.concatenate([[0.0], np.cumsum(np.log(c))])
    mean_log = (cum_log[n] - cum_log[first[ok]]) / nt
    lo, hi = np.full(ok.size, _ALPHA_RANGE[0]), np.full(ok.size, _ALPHA_RANGE[1])
    for _ in range(45):  # the bracket shrinks to 8 * 0.618^45 < 1e-8
        a1, a2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
        left = np.log(_hurwitz_zeta(a1, xmin)) + a1 * mean_log < np.log(_hurwitz_zeta(a2, xmin)) + a2 * mean_log
        hi, lo = np.where(left, a2, hi), np.where(left, lo, a1)
    alpha = (lo + hi) / 2.0
    # KS per candidate (rows) at the distinct values at or above its x_min (columns)
    at_or_above = values[None, :] >= xmin[:, None]
    below_next = np.append(first[1:], n)  # values <= values[j]
    emp = (below_next[None, :] - first[ok][:, None]) / nt[:, None]
    a = np.broadcast_to(alpha[:, None], at_or_above.shape)[at_or_above]
    v = np.broadcast_to(values[None, :], at_or_above.shape)[at_or_above]
    z0 = np.broadcast_to(_hurwitz_zeta(alpha, xmin)[:, None], at_or_above.shape)[at_or_above]
    gap = np.zeros(at_or_above.shape)
    gap[at_or_above] = np.abs(emp[at_or_above] - (1.0 - _hurwitz_zeta(a, v + 1.0) / z0))
    ks = gap.max(axis=1)
    best = int(np.argmin(ks))
    return float(alpha[best]), float(ks[best]), float(xmin[best]), int(nt[best])


def _sample_power_law(alpha: float, n: int, rng: np.random.Generator, x_min: float = 1.0, table: int = 100_000):
    """n draws of the discrete power law on c >= ``x_min`` (inverse CDF on x_min .. x_min + table - 1,
    the continuous approximation of Clauset et al. beyond)."""
    x = x_min + np.arange(table, dtype=float)
    cdf = np.cumsum(x**-alpha) / _hurwitz_zeta(alpha, x_min)
    u = rng.random(n)
    c = np.searchsorted(cdf, u, side="left").astype(float) + x_min
    tail = c >= x_min + table
    c[tail] = np.floor((x_min - 0.5) * (1 - u[tail]) ** (-1 / (alpha - 1)) + 0.5)
    return np.maximum(c, x_min)


def power_law_fit(
    counts, n_boot: int = POWER_LAW_BOOTSTRAP, seed: int = 0, min_tail_share: float = MIN_TAIL_SHARE
) -> PowerLawFit:
    """A discrete power law fitted to positive integer ``counts`` (zeros are left out) as in
    Clauset, Shalizi & Newman (2009, sections 3 and 4): x_min minimises the KS distance
    (:func:`_tail_fit`), alpha is the maximum-likelihood exponent of the tail above it, and the
    goodness-of-fit p-value is the share of ``n_boot`` semi-parametric bootstrap samples whose
    KS distance, with x_min searched again, is at least the data's (each sample: as many values,
    drawn from the fitted law with probability n_tail / n, otherwise from the data below x_min);
    and the tail's likelihood ratio against an exponential (:func:`_vuong_exponential`). NaNs
    with fewer than 2 values."""
    c = np.asarray(counts, dtype=float)
    c = np.sort(np.round(c[c > 0]))
    if c.size < 2:
        return PowerLawFit(float("nan"), float("nan"), float("nan"), float("nan"), int(c.size))
    alpha, ks, x_min, n_tail = _tail_fit(c, min_tail_share)
    rng = np.random.default_rng(seed)
    body = c[c < x_min]
    boot = []
    for _ in range(int(n_boot)):
        from_tail = int(rng.binomial(c.size, n_tail / c.size)) if body.size else c.size
        sample = np.concatenate([_sample_power_law(alpha, from_tail, rng, x_min), rng.choice(body, c.size - from_tail)])
        boot.append(_tail_fit(np.sort(sample), min_tail_share)[1])
    p = float(np.mean(np.asarray(boot) >= ks)) if n_boot else float("nan")
    return PowerLawFit(alpha, ks, p, x_min, n_tail, *_vuong_exponential(c[c >= x_min], alpha, x_min))


def zipf_fit(density: np.ndarray, n_tokens: int | None = None, n_boot: int = POWER_LAW_BOOTSTRAP) -> ZipfFit:
    """The power law of the alive latents' firing counts (density x ``n_tokens``; without
    ``n_tokens``, densities scaled so that the rarest alive latent counts 1), see
    :func:`power_law_fit`, and the rank-density slope it implies."""
    d = np.sort(np.asarray(density, dtype=float))[::-1]
    d = d[d > 0]
    if d.size < 2:
        return ZipfFit(float("nan"), float("nan"), float("nan"), int(d.size))
    counts = d * n_tokens if n_tokens else d / d[-1]
    f = power_law_fit(counts, n_boot)
    slope = -1.0 / (f.alpha - 1.0) if np.isfinite(f.alpha) else float("nan")
    return ZipfFit(
        float(slope),
        float(np.log10(d[0])),
        f.p_value,
        int(d.size),
        f.alpha,
        f.ks,
        f.p_value,
        f.x_min,
        f.n_tail,
        f.lr_exponential,
        f.lr_p,
    )


def dead_share(fired) -> float:
    """The dead share: latents active on none of the held-out rows (``fired``: per latent, its
    firing count or density on those rows, under the inference rule)."""
    fired = np.asarray(fired)
    return float((fired == 0).mean()) if fired.size else float("nan")


@torch.no_grad()
def evaluate_sae(
    sae: SparseAutoencoder, x: np.ndarray | Tensor, batch_size: int = 4096, groups: np.ndarray | None = None
) -> SaeEvaluation:
    """Metrics of ``sae`` on the held-out rows ``x`` ([rows, D]), in chunks of ``batch_size``
    rows (the 'batch' inference rules see these chunks as their batches). ``groups``: an
    integer code >= 0 per row; the sums are then also kept per code (:class:`GroupSums`)."""
    device = sae.W_enc.device
    n, d_in = x.shape
    if n == 0:
        raise ValueError("no held-out rows to evaluate the SAE on")
    n_groups = 0
    if groups is not None:
        groups = np.asarray(groups, dtype=np.int64)
        if groups.shape != (n,) or (groups < 0).any():
            raise ValueError("groups must be one non-negative code per row")
        n_groups = int(groups.max()) + 1
        g_sse = torch.zeros(n_groups, dtype=torch.float64, device=device)
        g_x = torch.zeros(n_groups, d_in, dtype=torch.float64, device=device)
        g_xx = torch.zeros(n_groups, dtype=torch.float64, device=device)
        g_l0 = torch.zeros(n_groups, dtype=torch.float64, device=device)
        g_fired = torch.zeros(n_groups * sae.n_latents, dtype=torch.long, device=device)
    sum_x = torch.zeros(d_in, dtype=torch.float64, device=device)
    sum_xx = torch.zeros((), dtype=torch.float64, device=device)
    sse = torch.zeros((), dtype=torch.float64, device=device)
    fired = torch.zeros(sae.n_latents, dtype=torch.long, device=device)
    # the held-out mean first (in chunks, like the rows below): each row's deviation from it is kept
    held_mean = torch.zeros(d_in, dtype=torch.float64, device=device)
    for s in range(0, n, batch_size):
        chunk = x[s : s + batch_size]
        chunk = chunk if isinstance(chunk, Tensor) else torch.from_numpy(np.array(chunk, dtype=np.float64))
        held_mean += chunk.to(device).double().sum(0)
    held_mean /= n
    l0s, sses, devs = [], [], []
    for s in range(0, n, batch_size):
        chunk = x[s : s + batch_size]
        if not isinstance(chunk, Tensor):
            chunk = torch.from_numpy(np.array(chunk, dtype=np.float32))
        xb = chunk.to(device, torch.float32)
        codes = sae.encode(xb)
        x_hat = sae.decode(codes)
        row_sse = (xb - x_hat).double().pow(2).sum(1)
        sse += row_sse.sum()
        sses.append(row_sse.float().cpu())
        devs.append((xb.double() - held_mean).pow(2).sum(1).float().cpu())
        sum_x += xb.double().sum(0)
        sum_xx += xb.double().pow(2).sum()
        fired += codes.fired()
        l0 = codes.l0()
        l0s.append(l0.cpu())
        if groups is not None:
            g = torch.from_numpy(groups[s : s + batch_size]).to(device)
            g_sse.index_add_(0, g, row_sse)
            g_x.index_add_(0, g, xb.double())
            g_xx.index_add_(0, g, xb.double().pow(2).sum(1))
            g_l0.index_add_(0, g, l0.double())
            active = codes.values > 0
            cells = g[codes.layout.token[active]] * sae.n_latents + codes.layout.latent[active]
            g_fired += torch.bincount(cells, minlength=n_groups * sae.n_latents)
    total = float(sum_xx - sum_x.pow(2).sum() / n)
    l0 = torch.cat(l0s).numpy()
    sums = None
    if groups is not None:
        mean = sum_x / n
        dev = (
            g_xx
            - 2 * (g_x @ mean)
            + torch.from_numpy(np.bincount(groups, minlength=n_groups)).to(device) * (mean @ mean)
        )
        sums = GroupSums(
            sse=g_sse.cpu().numpy(),
            dev=dev.cpu().numpy(),
            l0=g_l0.cpu().numpy(),
            rows=np.bincount(groups, minlength=n_groups).astype(np.int64),
            fired=g_fired.reshape(n_groups, sae.n_latents).cpu().numpy().astype(np.int32),
        )
    density = (fired.double() / n).cpu().numpy()
    opts = getattr(sae.settings, sae.selector.settings_key, None) if sae.settings is not None else None
    inference = getattr(opts, "inference", "topk")
    return SaeEvaluation(
        architecture=sae.selector.name,
        k=sae.k,
        inference=inference,
        n_tokens=int(n),
        n_latents=sae.n_latents,
        fvu=float(sse) / total if total > 0 else float("nan"),
        l0_mean=float(l0.mean()),
        l0_quantiles={q: float(np.quantile(l0, q)) for q in L0_QUANTILES},
        l0_histogram=np.bincount(l0),
        dead_share=dead_share(density),
        density=density,
        zipf=zipf_fit(density, int(n)),
        groups=sums,
        token_l0=l0.astype(np.int32),
        token_sse=torch.cat(sses).numpy(),
        token_dev=torch.cat(devs).numpy(),
    )


# --------------------------------------------------------------------------- files


def save_evaluations(
    path,
    evaluations: dict[int, SaeEvaluation],
    train_density: np.ndarray | None = None,
    held_rows: np.ndarray | None = None,
) -> None:
    """The evaluations of one (layer, architecture), one per k, as one .npz (written
    atomically): per k the density, L0 histogram and group sums (``k<k>__<name>``); the
    scalars are in the caller's table. ``train_density``: the density on the training rows of
    the SAE at the main k (for density-matched controls)."""

    arrays = {"ks": np.asarray(sorted(evaluations), dtype=np.int64)}
    for k, ev in evaluations.items():
        arrays[f"k{k}__density"] = ev.density
        arrays[f"k{k}__l0_histogram"] = ev.l0_histogram
        if ev.groups is not None:
            for name in ("sse", "dev", "l0", "rows", "fired"):
                arrays[f"k{k}__{name}"] = getattr(ev.groups, name)
        for name in ("token_l0", "token_sse", "token_dev"):
            if getattr(ev, name) is not None:
                arrays[f"k{k}__{name}"] = getattr(ev, name)
    if train_density is not None:
        arrays["train_density"] = np.asarray(train_density, dtype=np.float64)
    if held_rows is not None:
        arrays["held_rows"] = np.asarray(held_rows, dtype=np.int64)
    write_npz(path, arrays)


def load_held_rows(path) -> np.ndarray | None:
    """The held-out rows' positions in the dump saved by :func:`save_evaluations` (None when not
    saved)."""
    with load_npz(path) as npz:
        return npz["held_rows"] if "held_rows" in npz.files else None


def _zipf_from_row(row, density: np.ndarray) -> ZipfFit:
    """The Zipf fit written in an evaluation table's row (:meth:`SaeEvaluation.summary`), or fitted
    again from ``density`` when the row predates its columns (the bootstrap is not rerun on load)."""
    if "zipf_lr_p" not in row:
        return zipf_fit(density, int(row["n_tokens"]))
    d = density[density > 0]
    return ZipfFit(
        float(row["zipf_slope"]), float(np.log10(d.max())) if d.size else float("nan"), float(row["zipf_p"]),
        int(row["n_alive"]), float(row["zipf_alpha"]), float(row["zipf_ks"]), float(row["zipf_p"]),
        float(row["zipf_xmin"]), int(row["zipf_n_tail"]), float(row["zipf_lr_exponential"]), float(row["zipf_lr_p"]),
    )  # fmt: skip


def load_evaluations(path, table) -> tuple[dict[int, SaeEvaluation], np.ndarray | None]:
    """Inverse of :func:`save_evaluations`, with the scalars from ``table`` (the rows of
    :meth:`SaeEvaluation.summary` of the same SAEs, one per k)."""

    with load_npz(path) as npz:
        out = {}
        for k in npz["ks"].tolist():
            row = table[table["k"] == k].iloc[0]
            groups = None
            if f"k{k}__sse" in npz.files:
                groups = GroupSums(**{name: npz[f"k{k}__{name}"] for name in ("sse", "dev", "l0", "rows", "fired")})
            density = npz[f"k{k}__density"]
            out[k] = SaeEvaluation(
                architecture=str(row["architecture"]),
                k=int(k),
                inference=str(row["inference"]),
                n_tokens=int(row["n_tokens"]),
                n_latents=int(row["n_latents"]),
                fvu=float(row["fvu"]),
                l0_mean=float(row["l0_mean"]),
                l0_quantiles={q: float(row[f"l0_q{int(round(100 * q)):02d}"]) for q in L0_QUANTILES},
                l0_histogram=npz[f"k{k}__l0_histogram"],
                dead_share=float(row["dead_share"]),
                density=density,
                zipf=_zipf_from_row(row, density),
                groups=groups,
                token_l0=npz[f"k{k}__token_l0"] if f"k{k}__token_l0" in npz.files else None,
                token_sse=npz[f"k{k}__token_sse"] if f"k{k}__token_sse" in npz.files else None,
                token_dev=npz[f"k{k}__token_dev"] if f"k{k}__token_dev" in npz.files else None,
            )
        train = npz["train_density"] if "train_density" in npz.files else None
    return out, train
