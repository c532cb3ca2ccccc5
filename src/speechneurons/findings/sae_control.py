"""Positive control of the SAE claims (Ayonrinde 2024): activations with a planted sparse
dictionary, and its null twin (docs/positive-controls.md).

- **Planted data** (:func:`planted_activations`): ``n_atoms`` unit-norm atoms in R^d (a seeded
  Gaussian dictionary); atom i (rank i + 1) is active on a token independently with
  probability pi_i = c (i + 1)^-s (a Zipf law of exponent ``zipf_exponent`` over rank, c set so
  that the mean number of active atoms per token is ``mean_active``), with a positive
  magnitude drawn uniformly from [0.5, 1.5]; x = sum of the active atoms times their magnitudes
  plus isotropic Gaussian noise of standard deviation ``noise`` per dimension. The number of
  active atoms varies from token to token (a sum of Bernoulli draws), so tokens with more atoms
  are harder to reconstruct with a fixed budget.
- **Null twin** (:func:`null_twin`): Gaussian rows with the planted rows' mean and covariance.
  Same second moments, no sparse structure: no dictionary can be "found" in it.

Each is split into train rows and held-out rows; the held-out rows are cut into pseudo-
utterances of ``tokens_per_utterance`` consecutive tokens (the groups the SAE stage's
bootstrap resamples). Then the SAE stage's own code runs on both: every architecture of
``saes.architectures`` is trained and evaluated by
:func:`speechneurons.saes.stage.train_budgets` (TopK on the k sweep as well, as on every SAE
layer of a real run), the rows of claims.tsv come from
:func:`~speechneurons.saes.tables.claims_table`, :func:`~speechneurons.saes.tables.zipf_claims`,
:func:`~speechneurons.saes.adaptive.adaptive_claims` and
:func:`~speechneurons.saes.tables.add_convergence`, and the verdicts from the findings page's
:func:`speechneurons.findings.saes.sae_findings`. Nothing of a statistic is written twice. The
evidence that the SAEs see the planted structure is the **recovery**: the share of planted
atoms matched by a decoder direction with cosine above ``recovery_cosine``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

#: the simulated activations are one layer of a run
LAYER = 1
TWINS = ("planted", "null twin")


@dataclass(frozen=True)
class SaeControlSettings:
    """Keys of the ``positive_controls.saes`` config section (schemas/positive_controls.schema.yaml)."""

    d: int
    n_atoms: int
    zipf_exponent: float
    mean_active: float
    noise: float
    train_tokens: int
    heldout_tokens: int
    tokens_per_utterance: int
    k: int
    k_sweep: tuple[int, ...]
    expansion_factor: float
    steps: int
    recovery_cosine: float


def atom_probabilities(n_atoms: int, zipf_exponent: float, mean_active: float) -> np.ndarray:
    """pi_i = c (i + 1)^-s with sum_i pi_i = ``mean_active`` (module docstring); ValueError when
    the most frequent atom would need a probability above 1."""
    if n_atoms < 1 or mean_active <= 0:
        raise ValueError(f"need n_atoms >= 1 and mean_active > 0, got {n_atoms} and {mean_active}")
    p = np.arange(1, n_atoms + 1, dtype=np.float64) ** -float(zipf_exponent)
    p *= mean_active / p.sum()
    if p[0] > 1:
        raise ValueError(
            f"mean_active {mean_active} is too large for {n_atoms} atoms with Zipf exponent {zipf_exponent}: "
            f"the most frequent atom would be active with probability {p[0]:.2f} > 1 (use more atoms, a smaller "
            "exponent or fewer active atoms)"
        )
    return p


def planted_dictionary(n_atoms: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """[n_atoms, d] float64 atoms, Gaussian directions normalised to unit norm."""
    atoms = rng.standard_normal((n_atoms, d))
    return atoms / np.linalg.norm(atoms, axis=1, keepdims=True)


def planted_activations(
    n_tokens: int, atoms: np.ndarray, probabilities: np.ndarray, noise: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(x [n_tokens, d] float32, active [n_tokens, n_atoms] bool): each atom active independently
    with its probability, magnitudes uniform in [0.5, 1.5], plus Gaussian noise (module docstring)."""
    active = rng.random((n_tokens, len(probabilities))) < probabilities
    magnitude = rng.uniform(0.5, 1.5, active.shape) * active
    x = magnitude @ atoms + noise * rng.standard_normal((n_tokens, atoms.shape[1]))
    return x.astype(np.float32), active


def null_twin(x: np.ndarray, n_tokens: int, rng: np.random.Generator) -> np.ndarray:
    """[n_tokens, d] float32 Gaussian rows with the mean and covariance of the rows ``x``."""
    x = np.asarray(x, dtype=np.float64)
    return rng.multivariate_normal(x.mean(0), np.cov(x, rowvar=False), size=n_tokens, method="cholesky").astype(
        np.float32
    )


def recovery(decoder: np.ndarray, atoms: np.ndarray, threshold: float) -> tuple[float, np.ndarray]:
    """(share of ``atoms`` whose best decoder direction has cosine > ``threshold``, that best
    cosine per atom). ``decoder``: [F, d] directions (rows)."""
    dec = np.asarray(decoder, dtype=np.float64)
    dec = dec / np.maximum(np.linalg.norm(dec, axis=1, keepdims=True), 1e-12)
    best = (np.asarray(atoms, dtype=np.float64) @ dec.T).max(axis=1)
    return float((best > threshold).mean()), best


def simulated_data(cs: SaeControlSettings, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{twin: (x_train, x_held, held-out utterance codes)} and the planted atoms under 'atoms'."""
    rng = np.random.default_rng([int(seed), 24])
    atoms = planted_dictionary(cs.n_atoms, cs.d, rng)
    p = atom_probabilities(cs.n_atoms, cs.zipf_exponent, cs.mean_active)
    n = cs.train_tokens + cs.heldout_tokens
    x, _ = planted_activations(n, atoms, p, cs.noise, rng)
    twin = null_twin(x, n, rng)
    groups = np.arange(cs.heldout_tokens, dtype=np.int64) // cs.tokens_per_utterance
    out = {name: (data[: cs.train_tokens], data[cs.train_tokens :], groups) for name, data in zip(TWINS, (x, twin))}
    return out | {"atoms": atoms}


def control_claims(
    x_train: np.ndarray,
    x_held: np.ndarray,
    groups: np.ndarray,
    sae_section: Mapping,
    cs: SaeControlSettings,
    seed: int,
    resamples: int,
    level: float,
) -> tuple[pd.DataFrame, dict, dict]:
    """claims.tsv of one simulated layer (the SAE stage's functions, module docstring), the
    trained SAEs and their evaluations, each {(architecture, k): ...}."""
    from speechneurons.config import settings_from
    from speechneurons.saes.adaptive import adaptive_claims
    from speechneurons.saes.plan import REFERENCE
    from speechneurons.saes.settings import SaeSettings
    from speechneurons.saes.stage import train_budgets
    from speechneurons.saes.tables import ADAPTIVE, add_convergence, claims_table, zipf_claims

    evaluations, logs, saes = {}, {}, {}
    sweep = [cs.k, *sorted({int(k) for k in cs.k_sweep} - {cs.k})]
    for arch in sae_section["architectures"]:
        settings = settings_from(SaeSettings, sae_section, architecture=arch)
        settings = replace(settings, k=cs.k, steps=cs.steps, expansion_factor=cs.expansion_factor)
        ks = sweep if arch == REFERENCE else [cs.k]
        trained, evs, train_log = train_budgets(x_train, x_held, groups, settings, ks, "cpu", seed)
        evaluations |= {(LAYER, arch, k): ev for k, ev in evs.items()}
        saes |= {(arch, k): sae for k, sae in trained.items()}
        logs[LAYER, arch] = train_log
    claims = claims_table(evaluations, cs.k, resamples, seed, level)
    tokens = {LAYER: pd.DataFrame({"utt_id": groups.astype(str)})}
    adaptive = adaptive_claims(evaluations, tokens, cs.k, ADAPTIVE, resamples, resamples, seed, level)
    claims = pd.concat([claims, zipf_claims(evaluations, cs.k, level), adaptive], ignore_index=True)
    return add_convergence(claims, logs), saes, {(a, k): ev for (_, a, k), ev in evaluations.items()}


@dataclass
class SaeControl:
    """What :func:`sae_control` measured."""

    verdicts: pd.DataFrame
    """One row per SAE claim of the findings page and twin: ``twin, claim, verdict, value,
    ci_low, ci_high, chance_low, chance_high, why``."""
    saes: pd.DataFrame
    """One row per twin, architecture and k: ``recovered_share`` of the planted atoms,
    ``median_best_cosine``, held-out ``fvu``, ``l0_mean``, ``dead_share``, the Zipf fit's
    ``zipf_alpha`` and ``zipf_p``."""
    densities: dict[tuple[str, str, int], np.ndarray]
    """(twin, architecture, k) -> held-out latent densities."""
    probabilities: np.ndarray
    """The planted atoms' activation probabilities, by rank."""
    truth_zipf: dict[str, float]
    """The SAE stage's Zipf test (:func:`speechneurons.saes.evaluation.zipf_fit`) on the planted
    atoms' own expected firing counts on the held-out tokens: ``alpha``, ``ks``, ``p_value``."""


def sae_control(cs: SaeControlSettings, sae_section: Mapping, seed: int, resamples: int, level: float) -> SaeControl:
    """Simulate both twins, train and evaluate the SAEs on each, and read the findings page's
    SAE claims (module docstring). ``sae_section``: the validated ``saes`` config section."""
    from speechneurons.findings.saes import sae_findings
    from speechneurons.saes.evaluation import zipf_fit

    tolerance = float(sae_section["convergence_tolerance"])
    data = simulated_data(cs, seed)
    atoms = data.pop("atoms")
    probabilities = atom_probabilities(cs.n_atoms, cs.zipf_exponent, cs.mean_active)
    rows, table, densities = [], [], {}
    for twin, (x_train, x_held, groups) in data.items():
        t0 = time.process_time()
        claims, saes, evaluations = control_claims(x_train, x_held, groups, sae_section, cs, seed, resamples, level)
        for f in sae_findings(claims, cs.k, tolerance, level):
            rows.append(
                dict(twin=twin, claim=f.claim, verdict=f.verdict, value=f.value, ci_low=f.ci_low, ci_high=f.ci_high,
                     chance_low=f.chance_low, chance_high=f.chance_high, why=f.why)
            )  # fmt: skip
        for (arch, k), sae in sorted(saes.items()):
            ev = evaluations[arch, k]
            share, best = recovery(sae.W_dec.detach().cpu().numpy(), atoms, cs.recovery_cosine)
            table.append(
                dict(twin=twin, architecture=arch, k=int(k), n_atoms=len(atoms), n_latents=int(sae.n_latents),
                     recovered_share=share, median_best_cosine=float(np.median(best)), fvu=ev.fvu,
                     l0_mean=ev.l0_mean, dead_share=ev.dead_share, zipf_alpha=ev.zipf.alpha, zipf_p=ev.zipf.p_value)
            )  # fmt: skip
            densities[twin, arch, int(k)] = ev.density
        log.info("%s: %.1f CPU-s", twin, time.process_time() - t0)
    truth = zipf_fit(probabilities, cs.heldout_tokens)
    table.append(dict(twin="planted", architecture="planted atoms (expected counts)", k=np.nan, n_atoms=len(atoms),
                      zipf_alpha=truth.alpha, zipf_p=truth.p_value))  # fmt: skip
    return SaeControl(
        verdicts=pd.DataFrame(rows),
        saes=pd.DataFrame(table),
        densities=densities,
        probabilities=probabilities,
        truth_zipf=dict(alpha=truth.alpha, ks=truth.ks, p_value=truth.p_value),
    )


def plot_sae_control(control: SaeControl, k: int, path) -> None:
    """Two panels: latent density against rank of the TopK SAE at ``k`` on each twin beside the
    planted atoms' probabilities (log-log), and the share of planted atoms each SAE recovers."""
    from speechneurons.plotting import plt, save_figure

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    p = control.probabilities
    left.plot(np.arange(1, len(p) + 1), p, color="black", lw=1.5, label="planted atoms (probability)")
    for twin, colour in zip(TWINS, ("tab:blue", "tab:orange"), strict=True):
        d = np.sort(control.densities.get((twin, "topk", k), np.array([])))[::-1]
        d = d[d > 0]
        if d.size:
            left.plot(np.arange(1, d.size + 1), d, color=colour, lw=1.2, label=f"TopK latents, {twin} (k {k})")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("rank (1 = most frequent)")
    left.set_ylabel("share of held-out tokens active")
    left.legend(fontsize=8, frameon=False)
    left.grid(alpha=0.3, which="both")
    left.set_title("Frequencies against rank", fontsize=10)
    t = control.saes[control.saes["k"].notna()]
    labels = [f"{a} k{int(k_)}" for a, k_ in t.loc[t.twin == TWINS[0], ["architecture", "k"]].itertuples(index=False)]
    pos = np.arange(len(labels))
    for i, (twin, colour) in enumerate(zip(TWINS, ("tab:blue", "tab:orange"), strict=True)):
        right.bar(pos + (i - 0.5) * 0.4, t.loc[t.twin == twin, "recovered_share"], 0.4, color=colour, label=twin)
    right.set_xticks(pos, labels, rotation=30, ha="right", fontsize=8)
    right.set_ylim(0, 1)
    right.set_ylabel("share of planted atoms recovered")
    right.legend(fontsize=8, frameon=False)
    right.set_title("Planted atoms matched by a decoder direction", fontsize=10)
    fig.suptitle("SAE positive control: planted sparse dictionary and its null twin")
    save_figure(fig, path)
