"""Pasad et al.'s protocol claim, checked on one run's layer-wise tables: the layer-wise CCA
trend is a reliable guide to the best layer for a downstream task (the PWCCA peak layer is the
best probe layer).

Per view with a probe of the same content (phone PWCCA and the frame phone probe; word PWCCA
and a word probe, which this project does not train: that row says so), at checkpoint
``final``: Spearman's rho across layers between the view's PWCCA on the validation part
(``dev_pwcca``: never the test part) and the probe's score (- error on the test utterances,
which choose nothing). Interval: bootstrap over the probe's test utterances
(``probe_losses.parquet``), PWCCA held fixed. Chance range: the central range of rho under
permuted layers (exact over every permutation for up to 8 layers;
speechneurons.trajectories.guide). Verdict: the symmetric rule (``verdict_positive``).
"""

from __future__ import annotations

import math

import pandas as pd

from speechneurons.findings.claims import UNMEASURED, Finding, no_numbers
from speechneurons.findings.verdict import symmetric_verdict
from speechneurons.trajectories.guide import guide_correlation, probe_scores

STUDY = "Pasad et al. / Vielzeuf 2024 (layer-wise analysis)"
PAPER_GUIDE = (
    "Pasad et al.: the layer-wise CCA trend is a reliable guide to the best layer for a downstream task "
    "(the layers with the most phone / word content are the best layers for recognition); stated in words, "
    "no number quoted"
)
#: view -> (probe task, probe metric's name) of the same content
PROBE_OF_VIEW = {"phone": "phone", "word": "word"}


def claim_layer_guide(
    pwcca: pd.DataFrame | None,
    losses: pd.DataFrame | None,
    view: str,
    resamples: int,
    seed: int,
    level: float,
    checkpoint: str = "final",
) -> Finding:
    """The claim for one view (module docstring); ``pwcca``: trajectories pwcca.tsv; ``losses``:
    probe_losses.parquet (None when absent)."""
    task = PROBE_OF_VIEW[view]
    common = dict(study=STUDY, claim=f"The {view} PWCCA curve ranks the layers as the {task} probe does",
                  paper=PAPER_GUIDE,
                  measure=f"Spearman rho across layers of {view} PWCCA (validation part) with the {task} probe's "
                          f"score (- error, test utterances), checkpoint {checkpoint}",
                  source="trajectories/<model>/pwcca.tsv, probe_losses.parquet")  # fmt: skip
    rows = pd.DataFrame() if pwcca is None or not len(pwcca) else pwcca
    if len(rows):
        rows = rows[(rows["checkpoint"].astype(str) == checkpoint) & (rows["view"] == view)].sort_values("layer")
    if rows.empty:
        why = f"no {view} PWCCA at checkpoint {checkpoint} (trajectories.pwcca.views, trajectories.checkpoints)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if "dev_pwcca" not in rows or rows["dev_pwcca"].isna().all():
        why = "no validation PWCCA (dev_pwcca) in pwcca.tsv; the test part is never used to rank layers"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if losses is None or not len(losses) or task not in set(losses["task"]):
        why = f"no {task} probe in this run (probes.tasks)" + (
            ": the project trains no word probe" if task == "word" else ""
        )
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    layers = rows["layer"].astype(int).tolist()
    if len(layers) < 3:
        why = f"only {len(layers)} layers measured: a rank correlation needs at least 3"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    stacked, utts = probe_scores(losses, task, checkpoint, layers)
    r = guide_correlation(rows["dev_pwcca"].to_numpy(float), stacked[0], stacked[1], resamples, seed, level)
    if math.isnan(r["rho"]):
        why = "the PWCCA or the probe score is the same in every layer: no ranking"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    verdict, why = symmetric_verdict(r["rho"], r["ci_low"], r["ci_high"], r["chance_low"], r["chance_high"],
                                     chance_expected=True)  # fmt: skip
    null = "exact over every permutation" if r["exact"] else f"{resamples} random permutations"
    curve = ", ".join(f"{int(a)}: {b:.3f}" for a, b in zip(layers, rows["dev_pwcca"], strict=True))
    why += (
        f"; PWCCA peak layer {layers[r['guide_best']]}, best probe layer {layers[r['probe_best']]}; "
        f"one-sided permutation p {r['p']:.3f} ({null}, {len(layers)} layers); validation PWCCA per layer {curve}; "
        f"interval: bootstrap over {len(utts)} test utterances of the probe"
    )
    return Finding(**common, value=r["rho"], ci_low=r["ci_low"], ci_high=r["ci_high"], chance_low=r["chance_low"],
                   chance_high=r["chance_high"], verdict=verdict, why=why)  # fmt: skip


def layer_guide_findings(
    pwcca: pd.DataFrame | None, losses: pd.DataFrame | None, resamples: int, seed: int, level: float
) -> list[Finding]:
    """The claim for phones and for words (module docstring)."""
    return [claim_layer_guide(pwcca, losses, view, resamples, seed, level) for view in PROBE_OF_VIEW]
