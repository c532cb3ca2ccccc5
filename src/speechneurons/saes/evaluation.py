"""Evaluation of a trained SAE on held-out rows (inference rule of its architecture).

- FVU = sum_n ||x_n - x_hat_n||^2 / sum_n ||x_n - mean(x)||^2 (raw units; the input scale
  cancels);
- L0 per token: the number of active (non-zero) latents; its mean, quantiles and histogram;
- latent density: share of held-out tokens on which each latent is active; dead share: latents
  active on none of the held-out rows under the inference rule (:func:`dead_share`, the one
  definition: the training logs use it on their held-out subsample too);
- Zipf fit: a discrete power law P(c) ~ c^-alpha fitted by maximum likelihood to the alive
  latents' firing counts c >= 1 on the held-out rows (:func:`power_law_fit`, Clauset, Shalizi
  & Newman 2009 with x_min = 1), with its Kolmogorov-Smirnov distance and a parametric-bootstrap
  p-value (small p: not a power law); the rank-density slope it implies, -1 / (alpha - 1), is
  drawn in the figures. The old least-squares line on log-rank was no test of a power law.

With ``groups`` (an integer code per row, e.g. its utterance), the sums behind FVU, L0 and the
firing counts are also kept per group (:class:`GroupSums`), so that intervals can resample
groups (:mod:`speechneurons.saes.tables`). Every evaluation also keeps each held-out row's L0
and squared reconstruction error (``token_l0``, ``token_sse``): the per-token adaptive
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
    """Maximum-likelihood exponent of P(c) ~ c^-alpha, c >= 1 firing counts."""
    ks: float = float("nan")
    """Kolmogorov-Smirnov distance between the counts and the fitted law."""
    p_value: float = float("nan")
    """Share of bootstrap samples from the fitted law whose refitted KS distance is at least ``ks``."""


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
            n_alive=self.zipf.n_alive,
        )
        d.update({f"l0_q{int(round(100 * q)):02d}": v for q, v in self.l0_quantiles.items()})
        return d


#: parametric-bootstrap samples of the power-law goodness-of-fit test
POWER_LAW_BOOTSTRAP = 100
_ALPHA_RANGE = (1.0001, 8.0)


def _power_law_mle(c: np.ndarray) -> tuple[float, float]:
    """Discrete power law on c >= 1: the MLE of alpha (bounded scalar search of the exact
    log-likelihood -n log zeta(alpha) - alpha sum log c) and its KS distance between the
    empirical and fitted CDFs at the observed values."""
    from scipy.optimize import minimize_scalar
    from scipy.special import zeta

    n, s_log = len(c), float(np.log(c).sum())
    res = minimize_scalar(lambda a: n * np.log(zeta(a, 1.0)) + a * s_log, bounds=_ALPHA_RANGE, method="bounded")
    alpha = float(res.x)
    values, counts = np.unique(c, return_counts=True)
    emp = np.cumsum(counts) / n
    fit = 1.0 - zeta(alpha, values + 1.0) / zeta(alpha, 1.0)
    return alpha, float(np.abs(emp - fit).max())  # at the observed values, as Clauset et al.


def _sample_power_law(alpha: float, n: int, rng: np.random.Generator, table: int = 100_000) -> np.ndarray:
    """n draws of the discrete power law on c >= 1 (inverse CDF on 1..table, the continuous
    approximation of Clauset et al. beyond)."""
    from scipy.special import zeta

    cdf = np.cumsum(np.arange(1, table + 1, dtype=float) ** -alpha) / zeta(alpha, 1.0)
    u = rng.random(n)
    c = np.searchsorted(cdf, u, side="left").astype(float) + 1
    tail = c > table
    c[tail] = np.floor(0.5 * (1 - u[tail]) ** (-1 / (alpha - 1)) + 0.5)
    return np.maximum(c, 1.0)


def power_law_fit(counts, n_boot: int = POWER_LAW_BOOTSTRAP, seed: int = 0) -> tuple[float, float, float]:
    """(alpha, KS distance, bootstrap p-value) of a discrete power law fitted by maximum
    likelihood to positive integer ``counts`` (zeros are left out); NaNs with fewer than 2."""
    c = np.asarray(counts, dtype=float)
    c = np.round(c[c > 0])
    if c.size < 2:
        return float("nan"), float("nan"), float("nan")
    alpha, ks = _power_law_mle(c)
    rng = np.random.default_rng(seed)
    boot = [_power_law_mle(_sample_power_law(alpha, c.size, rng))[1] for _ in range(int(n_boot))]
    p = float(np.mean(np.asarray(boot) >= ks)) if n_boot else float("nan")
    return alpha, ks, p


def zipf_fit(density: np.ndarray, n_tokens: int | None = None, n_boot: int = POWER_LAW_BOOTSTRAP) -> ZipfFit:
    """The power law of the alive latents' firing counts (density x ``n_tokens``; without
    ``n_tokens``, densities scaled so that the rarest alive latent counts 1), see
    :func:`power_law_fit`, and the rank-density slope it implies."""
    d = np.sort(np.asarray(density, dtype=float))[::-1]
    d = d[d > 0]
    if d.size < 2:
        return ZipfFit(float("nan"), float("nan"), float("nan"), int(d.size))
    counts = d * n_tokens if n_tokens else d / d[-1]
    alpha, ks, p = power_law_fit(counts, n_boot)
    slope = -1.0 / (alpha - 1.0) if np.isfinite(alpha) else float("nan")
    return ZipfFit(float(slope), float(np.log10(d[0])), p, int(d.size), alpha, ks, p)


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
    l0s, sses = [], []
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
        for name in ("token_l0", "token_sse"):
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
                zipf=zipf_fit(density, int(row["n_tokens"])),
                groups=groups,
                token_l0=npz[f"k{k}__token_l0"] if f"k{k}__token_l0" in npz.files else None,
                token_sse=npz[f"k{k}__token_sse"] if f"k{k}__token_sse" in npz.files else None,
            )
        train = npz["train_density"] if "train_density" in npz.files else None
    return out, train
