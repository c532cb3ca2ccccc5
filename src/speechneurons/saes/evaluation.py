"""Evaluation of a trained SAE on held-out rows (inference rule of its architecture).

- FVU = sum_n ||x_n - x_hat_n||^2 / sum_n ||x_n - mean(x)||^2 (raw units; the input scale
  cancels);
- L0 per token: the number of active (non-zero) latents; its mean, quantiles and histogram;
- latent density: share of held-out tokens on which each latent is active; dead share: latents
  active on none of the held-out rows under the inference rule (:func:`dead_share`, the one
  definition: the training logs use it on their held-out subsample too);
- Zipf fit: least squares of log10(density) on log10(rank) over the alive latents sorted by
  density (rank 1 = densest), slope and R^2.

With ``groups`` (an integer code per row, e.g. its utterance), the sums behind FVU, L0 and the
firing counts are also kept per group (:class:`GroupSums`), so that intervals can resample
groups (:mod:`speechneurons.saes.tables`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from speechneurons.io import atomic_path

from .sae import SparseAutoencoder

L0_QUANTILES = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


@dataclass(frozen=True)
class ZipfFit:
    """log10(density) = intercept + slope * log10(rank) over the alive latents."""

    slope: float
    """Fitted slope (a Zipf law of exponent s has slope -s); NaN with fewer than 2 alive latents."""
    intercept: float
    """Fitted intercept (log10 of the density at rank 1)."""
    r2: float
    """Coefficient of determination of the fit in log-log."""
    n_alive: int
    """Latents in the fit (density > 0)."""


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
            zipf_r2=self.zipf.r2,
            n_alive=self.zipf.n_alive,
        )
        d.update({f"l0_q{int(round(100 * q)):02d}": v for q, v in self.l0_quantiles.items()})
        return d


def zipf_fit(density: np.ndarray) -> ZipfFit:
    """Least-squares line through (log10 rank, log10 density) of the latents with density > 0."""
    d = np.sort(np.asarray(density, dtype=float))[::-1]
    d = d[d > 0]
    if d.size < 2:
        return ZipfFit(float("nan"), float("nan"), float("nan"), int(d.size))
    lx, ly = np.log10(np.arange(1, d.size + 1)), np.log10(d)
    slope, intercept = np.polyfit(lx, ly, 1)
    resid = ly - (intercept + slope * lx)
    ss_tot = float(((ly - ly.mean()) ** 2).sum())
    r2 = 1.0 - float((resid**2).sum()) / ss_tot if ss_tot > 0 else 1.0
    return ZipfFit(float(slope), float(intercept), r2, int(d.size))


@torch.no_grad()
def dead_share(fired) -> float:
    """The dead share: latents active on none of the held-out rows (``fired``: per latent, its
    firing count or density on those rows, under the inference rule)."""
    fired = np.asarray(fired)
    return float((fired == 0).mean()) if fired.size else float("nan")


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
    l0s = []
    for s in range(0, n, batch_size):
        chunk = x[s : s + batch_size]
        if not isinstance(chunk, Tensor):
            chunk = torch.from_numpy(np.array(chunk, dtype=np.float32))
        xb = chunk.to(device, torch.float32)
        codes = sae.encode(xb)
        x_hat = sae.decode(codes)
        row_sse = (xb - x_hat).double().pow(2).sum(1)
        sse += row_sse.sum()
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
        zipf=zipf_fit(density),
        groups=sums,
    )


# --------------------------------------------------------------------------- files


def save_evaluations(path, evaluations: dict[int, SaeEvaluation], train_density: np.ndarray | None = None) -> None:
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
    if train_density is not None:
        arrays["train_density"] = np.asarray(train_density, dtype=np.float64)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_evaluations(path, table) -> tuple[dict[int, SaeEvaluation], np.ndarray | None]:
    """Inverse of :func:`save_evaluations`, with the scalars from ``table`` (the rows of
    :meth:`SaeEvaluation.summary` of the same SAEs, one per k)."""
    with np.load(path) as npz:
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
                zipf=zipf_fit(density),
                groups=groups,
            )
        train = npz["train_density"] if "train_density" in npz.files else None
    return out, train
