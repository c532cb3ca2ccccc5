"""A textbook CCA / PWCCA for the tests: covariance matrices, eigen-decomposition square
roots and one SVD, the way ankitapasad/layerwise-analysis (after google/svcca) computes it."""

from __future__ import annotations

import numpy as np
import scipy.linalg


def _inv_sqrt(sym: np.ndarray) -> np.ndarray:
    w, v = scipy.linalg.eigh(sym)
    w = np.where(w > w.max() * 1e-13, w, np.inf)
    return (v / np.sqrt(w)) @ v.T


def reference_cca(x: np.ndarray, y: np.ndarray, eps_x: float = 0.0, eps_y: float = 0.0):
    """(rho, proj_x, proj_y, kept_x, kept_y) from Sigma_xx^(-1/2) Sigma_xy Sigma_yy^(-1/2)."""
    dx = x.shape[1]
    cov = np.cov(x.T, y.T)
    sxx, sxy, syy = cov[:dx, :dx], cov[:dx, dx:], cov[dx:, dx:]
    mx, my = np.abs(sxx).max(), np.abs(syy).max()
    sxx, syy, sxy = sxx / mx, syy / my, sxy / np.sqrt(mx * my)
    kx, ky = np.diag(sxx) >= eps_x, np.diag(syy) >= eps_y
    sxx, syy, sxy = sxx[np.ix_(kx, kx)], syy[np.ix_(ky, ky)], sxy[np.ix_(kx, ky)]
    ix = _inv_sqrt(sxx + eps_x * np.eye(len(sxx)))
    iy = _inv_sqrt(syy + eps_y * np.eye(len(syy)))
    u, s, vt = np.linalg.svd(ix @ sxy @ iy)
    k = min(np.linalg.matrix_rank(x[:, kx] - x[:, kx].mean(0)), np.linalg.matrix_rank(y[:, ky] - y[:, ky].mean(0)))
    return s[:k], u[:, :k].T @ ix, vt[:k] @ iy, kx, ky


def reference_pwcca(
    x: np.ndarray, y: np.ndarray, eps_x: float = 0.0, eps_y: float = 0.0, weight_view: str = "x"
) -> float:
    """In-sample PWCCA: correlations of the variates weighted by sum_j |<q_i, z_j>| of one view."""
    rho, px, py, kx, ky = reference_cca(x, y, eps_x, eps_y)
    xc, yc = x[:, kx] - x[:, kx].mean(0), y[:, ky] - y[:, ky].mean(0)
    hx, hy = xc @ px.T, yc @ py.T
    corr = np.array([np.corrcoef(hx[:, i], hy[:, i])[0, 1] for i in range(len(rho))])
    h, z = (hx, xc) if weight_view == "x" else (hy, yc)
    q, _ = np.linalg.qr(h)
    alpha = np.abs(q.T @ z).sum(axis=1)
    return float((alpha / alpha.sum()) @ corr)
