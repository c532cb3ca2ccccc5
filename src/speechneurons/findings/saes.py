"""The claims of Ayonrinde (2024) checked on one run's SAEs (``saes/.../claims.tsv``).

1. Feature-choice SAEs leave no latent dead. Effect: the largest share of dead latents of the
   feature-choice SAE over the SAE layers, at the main k (held-out frames). A dead share has no
   useful interval (any resample can only find more dead latents), so the verdict reads the
   count itself: holds when no layer has a dead latent. TopK's share at the same k is given.
2. Mutual-choice and feature-choice SAEs reconstruct better than TopK at equal mean L0. Effect:
   TopK's FVU (interpolated at the adaptive SAE's mean L0) minus the adaptive SAE's FVU at the
   main k, with its paired bootstrap interval over held-out utterances, at every SAE layer
   (TopK is trained on the k sweep at each); the comparison is itself the control (TopK at the
   same L0). Each layer is read with ``verdict_positive``; the row *holds* when every layer
   holds (the layer with the smallest lower bound shown), *does not hold* when a layer shows the
   opposite (that layer, the most negative, shown), *not measurable here* otherwise (a layer
   whose interval includes 0 shown); every layer's effect is listed in ``why``.

3. Feature densities follow a Zipf law (over rank: density_r ~ r^-s, i.e. firing counts with a
   power-law tail P(c) ~ c^-alpha, alpha = 1 + 1 / s). Effect: the maximum-likelihood exponent
   alpha of a discrete power law fitted above x_min to the alive latents' held-out firing
   counts of the TopK SAE at the main k (on the layer of claim 2, else the middle SAE layer),
   x_min chosen by the smallest Kolmogorov-Smirnov distance, with the semi-parametric bootstrap
   goodness-of-fit p-value and the likelihood ratio against an exponential tail (Clauset,
   Shalizi & Newman 2009; claims.tsv rows ``zipf``). No interval: the verdict reads the tests.
   *Does not hold* when p < 1 - level (the law is rejected) or the exponential fits the tail
   significantly better; *holds* when it is not rejected, fits significantly better than the
   exponential and has at least ``MIN_ALIVE`` alive latents; otherwise *not measurable here*
   (too few latents, or a tail that the test cannot tell from an exponential one).
4. Mutual-choice and feature-choice SAEs spend more latents on harder tokens (adaptive
   computation). Effect: Spearman's partial rho between the adaptive SAE's per-token L0 and the
   token's difficulty (TopK's squared reconstruction error at the same k, same held-out rows)
   given the token's size (its squared deviation from the held-out mean: both L0 and the error
   grow with it on any data), with its bootstrap interval over utterances; chance range: the
   same rho with the difficulty shuffled among the frames of each utterance (claims.tsv rows ``adaptive_l0``,
   speechneurons.saes.adaptive). Verdict: the symmetric rule (``verdict_positive``) on the
   layer of claim 2 (else the middle SAE layer); the other layers are listed.

Every claim is "not measurable here: under-trained" when an SAE of the layer read still
changed its held-out FVU by more than ``saes.convergence_tolerance`` (relative) over the last
tenth of training (claims.tsv ``fvu_change_last_tenth``): a comparison of SAEs that have not
converged measures convergence speed.
"""

from __future__ import annotations

import math

import pandas as pd

from speechneurons.findings.claims import FAILS, HOLDS, UNMEASURED, Finding, fmt, no_numbers, verdict_positive
from speechneurons.findings.verdict import CANNOT_TEST

STUDY = "Ayonrinde 2024 (sparse autoencoders)"
NAMES = {"mutual_choice": "mutual choice", "feature_choice": "feature choice (uniform)"}
SOURCE = "saes/<model>/<checkpoint>/claims.tsv"


def under_trained(rows: pd.DataFrame, tolerance: float) -> str | None:
    """The reason an SAE claim cannot be tested on ``rows`` of claims.tsv, or None: the largest
    held-out FVU change over the last tenth of training above ``tolerance``."""
    if "fvu_change_last_tenth" not in rows or math.isnan(tolerance):
        return None
    change = rows["fvu_change_last_tenth"].astype(float).abs().max()
    if pd.isna(change) or change <= tolerance:
        return None
    return (
        f"under-trained: held-out FVU still changed by {100 * change:.1f} % over the last tenth of "
        f"training (tolerance {100 * tolerance:g} %, saes.convergence_tolerance)"
    )


def unless_under_trained(rows: pd.DataFrame, tolerance: float, verdict: str, why: str) -> tuple[str, str]:
    """``verdict`` and ``why``, or *not measurable here* with the :func:`under_trained` reason in
    front of ``why`` when an SAE of ``rows`` is under-trained."""
    reason = under_trained(rows, tolerance)
    return (UNMEASURED, f"{CANNOT_TEST}: {reason}; {why}") if reason else (verdict, why)


def claim_no_dead_latents(claims: pd.DataFrame, tolerance: float = math.nan) -> Finding:
    """Claim 1 (module docstring)."""
    common = dict(study=STUDY, claim="Feature-choice SAEs leave no latent dead",
                  paper="feature choice: no dead latents; TopK leaves some dead",
                  measure="largest share of dead latents of the feature-choice SAE over layers, main k (%)",
                  source=SOURCE)  # fmt: skip
    rows = claims[(claims["claim"] == "dead_share") & (claims["architecture"] == "feature_choice")]
    if not len(rows):
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why="no feature-choice SAE in this run"))
    worst = rows.sort_values("value", ascending=False).iloc[0]
    value = 100 * float(worst["value"])
    per_layer = ", ".join(
        f"layer {int(r.layer)}: {100 * r.value:.1f} % (TopK {100 * r.reference:.1f} %)"
        for r in rows.sort_values("layer").itertuples(index=False)
    )
    verdict = HOLDS if value == 0 else FAILS
    fewer = "yes" if (rows["value"] < rows["reference"]).all() else "no"
    why = "no layer has a dead latent" if value == 0 else f"dead latents at layer {int(worst['layer'])}"
    why += f"; {per_layer}; fewer dead than TopK at every layer: {fewer}"
    verdict, why = unless_under_trained(rows, tolerance, verdict, why)
    return Finding(**common, value=value, ci_low=math.nan, ci_high=math.nan, chance_low=math.nan,
                   chance_high=math.nan, verdict=verdict, why=why)  # fmt: skip


def claim_fvu_at_equal_l0(arch: str, claims: pd.DataFrame, main_k: int, tolerance: float = math.nan) -> Finding:
    """Claim 2 for one adaptive architecture (module docstring)."""
    name = NAMES.get(arch, arch)
    common = dict(study=STUDY, claim=f"{name.capitalize()} SAEs reconstruct better than TopK at equal mean L0",
                  paper="mutual choice and feature choice: lower FVU than TopK at the same mean L0",
                  measure=f"TopK's FVU at the same mean L0 minus the {name} SAE's, main k (FVU, x100)",
                  source=SOURCE)  # fmt: skip
    rows = claims[(claims["claim"] == "fvu_at_equal_l0") & (claims["architecture"] == arch)]
    rows = rows[rows["k"] == main_k].dropna(subset=["delta_ci_low", "delta_ci_high"]).sort_values("layer")
    if not len(rows):
        return Finding(**common, **no_numbers(verdict=UNMEASURED,
                                        why="no SAE layer where the mean L0 at the main k lies inside TopK's "
                                            "range"))  # fmt: skip
    effect, e_lo, e_hi = -100 * rows["delta"], -100 * rows["delta_ci_high"], -100 * rows["delta_ci_low"]
    verdicts = pd.Series([verdict_positive(*x)[0] for x in zip(effect, e_lo, e_hi)], index=rows.index)
    if (verdicts == FAILS).any():
        at = effect[verdicts == FAILS].idxmin()
    elif (verdicts == HOLDS).all():
        at = e_lo.idxmin()
    else:
        at = e_lo.where(verdicts != HOLDS).idxmin()
    r = rows.loc[at]
    value, lo, hi = float(effect[at]), float(e_lo[at]), float(e_hi[at])
    verdict, why = verdict_positive(value, lo, hi)
    if verdict == HOLDS:
        why = "at every SAE layer the interval lies above 0"
    why += (
        f"; shown: layer {int(r['layer'])}, k {int(r['k'])}, mean L0 {float(r['l0_mean']):.1f}: FVU "
        f"{float(r['value']):.4f} against TopK {float(r['reference']):.4f}; per layer: "
        + "; ".join(
            f"layer {int(x.layer)}: {fmt(-100 * x.delta, 2)} [{fmt(-100 * x.delta_ci_high, 2)}, "
            f"{fmt(-100 * x.delta_ci_low, 2)}]"
            for x in rows.itertuples(index=False)
        )
    )
    missing = sorted(
        set(claims.loc[claims["claim"] == "dead_share", "layer"].astype(int)) - set(rows["layer"].astype(int))
    )
    if missing:
        why += f"; no comparison at layer(s) {', '.join(map(str, missing))} (mean L0 outside TopK's range)"
    verdict, why = unless_under_trained(rows, tolerance, verdict, why)
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


#: Fewest alive latents for the power-law test to count a non-rejection as *holds*.
MIN_ALIVE = 50


def _claim_layer(claims: pd.DataFrame, rows: pd.DataFrame) -> int | None:
    """The layer a claim is read on: the first layer of claim 2 (the sweep layer) when it is
    among ``rows``, else the middle layer of ``rows``."""
    layers = sorted(int(x) for x in rows["layer"].unique())
    if not layers:
        return None
    sweep = sorted(int(x) for x in claims.loc[claims["claim"] == "fvu_at_equal_l0", "layer"].unique())
    for layer in sweep:
        if layer in layers:
            return layer
    return layers[(len(layers) - 1) // 2]


def claim_zipf(claims: pd.DataFrame, main_k: int, level: float, tolerance: float = math.nan) -> Finding:
    """Claim 3 (module docstring)."""
    common = dict(study=STUDY, claim="Feature densities follow a Zipf law",
                  paper="latent densities follow a Zipf (power) law; stated in words, no number quoted",
                  measure="power-law exponent alpha of the TopK SAE's held-out latent firing counts above x_min, "
                          "main k (Clauset et al.: MLE, KS bootstrap test, likelihood ratio against an exponential)",
                  source=SOURCE)  # fmt: skip
    rows = claims[(claims["claim"] == "zipf") & (claims["k"] == main_k) & (claims["architecture"] == "topk")]
    rows = rows.dropna(subset=["value", "p_value"]) if len(rows) else rows
    layer = _claim_layer(claims, rows)
    if layer is None:
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why="no power-law fit of a TopK SAE at the main k"))
    r = rows[rows["layer"] == layer].iloc[0]
    alpha, ks, p, n = float(r["value"]), float(r["reference"]), float(r["p_value"]), int(r["n_alive"])
    alpha_level = 1.0 - float(level)
    lr, lr_p = float(r.get("lr_exponential", math.nan)), float(r.get("lr_p", math.nan))
    tail = f"x_min {float(r['x_min']):g}, {int(r['n_tail'])} latents in the tail" if pd.notna(r.get("n_tail")) else ""
    vs_exp = f"likelihood ratio over an exponential tail {lr:+.1f} (Vuong p {lr_p:.3f})"
    if p < alpha_level:
        verdict, why = FAILS, f"the power law is rejected: KS bootstrap p {p:.3f} < {alpha_level:g}"
    elif lr < 0 and lr_p < alpha_level:
        verdict, why = FAILS, f"an exponential tail fits better than the power law: {vs_exp}"
    elif n < MIN_ALIVE:
        verdict, why = UNMEASURED, f"{CANNOT_TEST}: only {n} alive latents (fewer than {MIN_ALIVE}), p {p:.3f}"
    elif lr > 0 and lr_p < alpha_level:
        verdict = HOLDS
        why = f"the power law is not rejected (KS bootstrap p {p:.3f}) and beats an exponential: {vs_exp}"
    else:
        verdict = UNMEASURED
        why = (
            f"{CANNOT_TEST}: the power law is not rejected (KS bootstrap p {p:.3f}) but fits no better than an "
            f"exponential: {vs_exp}"
        )
    if tail:
        why += f"; {tail}"
    why += f"; layer {layer}: alpha {alpha:.2f}, KS {ks:.3f}, {n} alive latents"
    others = claims[(claims["claim"] == "zipf") & (claims["k"] == main_k)].sort_values(["layer", "architecture"])
    others = others[~((others["layer"] == layer) & (others["architecture"] == "topk"))]
    if len(others):
        why += "; other SAEs (p): " + ", ".join(
            f"layer {int(o.layer)} {NAMES.get(o.architecture, o.architecture)} {float(o.p_value):.3f}"
            for o in others.itertuples(index=False)
        )
    verdict, why = unless_under_trained(rows[rows["layer"] == layer], tolerance, verdict, why)
    return Finding(**common, value=alpha, ci_low=math.nan, ci_high=math.nan, chance_low=math.nan,
                   chance_high=math.nan, verdict=verdict, why=why)  # fmt: skip


def claim_adaptive(arch: str, claims: pd.DataFrame, main_k: int, tolerance: float = math.nan) -> Finding:
    """Claim 4 for one adaptive architecture (module docstring)."""
    name = NAMES.get(arch, arch)
    common = dict(study=STUDY, claim=f"{name.capitalize()} SAEs give harder tokens more latents",
                  paper="adaptive computation: tokens that are harder to reconstruct receive more latents; stated "
                        "in words, no number quoted",
                  measure=f"Spearman partial rho between the {name} SAE's L0 per token and TopK's squared error "
                          "per token at the same k, given the token's squared norm (x100)",
                  source=SOURCE)  # fmt: skip
    rows = claims[(claims["claim"] == "adaptive_l0") & (claims["architecture"] == arch) & (claims["k"] == main_k)]
    rows = rows.dropna(subset=["value", "delta_ci_low", "delta_ci_high"]) if len(rows) else rows
    layer = _claim_layer(claims, rows)
    if layer is None:
        return Finding(**common, **no_numbers(verdict=UNMEASURED,
                                        why="no per-token L0 and error in this run's SAE evaluations"))  # fmt: skip
    r = rows[rows["layer"] == layer].iloc[0]
    value, lo, hi = (100 * float(r[c]) for c in ("value", "delta_ci_low", "delta_ci_high"))
    c_lo, c_hi = 100 * float(r["chance_low"]), 100 * float(r["chance_high"])
    verdict, why = verdict_positive(value, lo, hi, chance_high=c_hi, chance_low=c_lo)
    why += (
        f"; layer {layer}, {int(r['n_tokens'])} held-out tokens, mean L0 {float(r['l0_mean']):.1f} against TopK's "
        f"{float(r['reference']):.1f}; chance: difficulty shuffled within utterances"
    )
    others = rows[rows["layer"] != layer].sort_values("layer")
    if len(others):
        why += "; other layers: " + ", ".join(
            f"layer {int(o.layer)} {100 * float(o.value):+.1f} [{100 * float(o.delta_ci_low):+.1f}, "
            f"{100 * float(o.delta_ci_high):+.1f}]"
            for o in others.itertuples(index=False)
        )
    verdict, why = unless_under_trained(rows[rows["layer"] == layer], tolerance, verdict, why)
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=c_lo, chance_high=c_hi,
                   verdict=verdict, why=why)  # fmt: skip


def sae_findings(claims: pd.DataFrame, main_k: int, tolerance: float = math.nan, level: float = 0.95) -> list[Finding]:
    """Every claim of Ayonrinde (2024) on one run's claims.tsv; ``tolerance``:
    saes.convergence_tolerance (NaN: not checked); ``level``: the bootstrap level (the Zipf
    test rejects at 1 - level)."""
    if not len(claims):
        return []
    return [
        claim_no_dead_latents(claims, tolerance),
        *(claim_fvu_at_equal_l0(a, claims, main_k, tolerance) for a in NAMES),
        claim_zipf(claims, main_k, level, tolerance),
        *(claim_adaptive(a, claims, main_k, tolerance) for a in NAMES),
    ]
