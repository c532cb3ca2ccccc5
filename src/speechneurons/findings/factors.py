"""The claims of Vielzeuf (2024) on the pretraining-factor study (``configs/pretraining-factors.yaml``):
an improved pretraining procedure converges faster at equal or better downstream performance.
Read from the factor study's tables (``factors/equal_steps.tsv``, the runs' ``heldout.tsv``),
only when the config compares several pretraining runs; the page says so otherwise.

A run is matched to a claim by what its pretrain section changes against the baseline (the
first run, ``trajectories.runs``), at equal total steps:

- *progressive schedule*: more iterations than the baseline (each re-clustering the previous
  model), the same total steps and nothing else changed but the iterations;
- *higher clustering layer*: as many iterations with the same steps, every later iteration's
  target layer at least the baseline's and one higher.

1. and 2. "<factor> converges faster". Effect: the baseline's phone-probe error minus the run's
   (frame phone error, %, at each model's best layer), averaged over the intermediate steps
   both saved (0 < s < final: equal compute), in points. The probes carry percentile bootstrap
   intervals over test utterances; the two runs' errors are independent samples, so the
   interval of each difference is the normal approximation from the two half-widths, and that
   of the mean over m steps sqrt(sum of squared half-widths) / m (steps treated as
   independent: the interval is only indicative). Verdict: the symmetric rule; a *holds* also
   needs "equal or better" at the end: when the run's final error is worse beyond its
   interval, *does not hold*. There is one seed per run, so no interval over seeds exists: the
   steps each run needs to reach the baseline's final held-out masked accuracy (linear
   interpolation between checkpoints; "not reached" when it never does) are given in ``why``
   and not read by the verdict: the masked-prediction targets of runs that re-cluster
   differently are not the same task, so their accuracies are not comparable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.findings.claims import FAILS, UNMEASURED, Finding, no_numbers, verdict_positive

STUDY = "Vielzeuf 2024 (pretraining factors)"
SOURCE = "factors/equal_steps.tsv, models/<run>/heldout.tsv"
PAPER = (
    "Vielzeuf 2024: the improved pretraining (progressive schedule, clustering on a higher layer) converges faster "
    "at equal or better downstream performance; stated in words here, no number quoted"
)
NOT_RUN = (
    "The pretraining-factor claims of Vielzeuf 2024 (progressive schedule and higher clustering layer converge "
    "faster) are checked only when the factor study runs (configs/pretraining-factors.yaml: several pretraining "
    "runs compared at equal steps); this run has a single pretrained model, so they are not on this page."
)
CLAIMS = {"progressive": "A progressive iteration schedule", "higher_layer": "Clustering on a higher layer"}
PHONE_TASK = "phone"


def _iterations(pretrain: Mapping) -> list[dict]:
    return [dict(it) for it in pretrain.get("iterations", [])]


def classify(pretrain: Mapping, baseline: Mapping) -> str | None:
    """'progressive', 'higher_layer' or None: what a run's pretrain section changes against the
    baseline's (module docstring)."""
    its, base = _iterations(pretrain), _iterations(baseline)
    rest = {k: v for k, v in pretrain.items() if k != "iterations"}
    base_rest = {k: v for k, v in baseline.items() if k != "iterations"}
    if rest != base_rest or not its or not base:
        return None
    if sum(int(i["steps"]) for i in its) != sum(int(i["steps"]) for i in base):
        return None
    if len(its) > len(base):
        # the same first targets, clusters and later target layers: only the schedule differs
        clusters = {int(i["n_clusters"]) for i in its + base}
        later = lambda x: {int(i["layer"]) for i in x if i.get("targets") != "mfcc"}  # noqa: E731
        first_same = its[0].get("targets") == base[0].get("targets")
        return "progressive" if first_same and len(clusters) == 1 and later(its) == later(base) else None
    if len(its) != len(base):
        return None
    layers, base_layers = [], []
    for a, b in zip(its, base, strict=True):
        if any(a.get(k) != b.get(k) for k in ("steps", "targets", "n_clusters", "init")):
            return None
        if a.get("targets") != "mfcc":
            layers.append(int(a["layer"]))
            base_layers.append(int(b["layer"]))
    higher = [a - b for a, b in zip(layers, base_layers, strict=True)]
    return "higher_layer" if higher and min(higher) >= 0 and max(higher) > 0 else None


def best_errors(equal_steps: pd.DataFrame, run: str) -> pd.DataFrame:
    """One row per step of ``run``: its lowest phone-probe error over layers, with that layer's
    interval (columns ``step, value, ci_low, ci_high, layer``)."""
    t = equal_steps[
        (equal_steps["run"] == run) & (equal_steps["measure"] == "probe") & (equal_steps["key"] == PHONE_TASK)
    ]
    if not len(t):
        return pd.DataFrame(columns=["step", "value", "ci_low", "ci_high", "layer"])
    best = t.loc[t.groupby("step")["value"].idxmin()]
    return best[["step", "value", "ci_low", "ci_high", "layer"]].astype(float).sort_values("step")


def steps_to_reach(curve: pd.DataFrame, target: float) -> float:
    """The first step at which a held-out accuracy curve (``step``, ``masked_acc``) reaches
    ``target``, interpolated linearly between checkpoints; NaN when it never does."""
    c = curve.sort_values("step")
    s, a = c["step"].to_numpy(dtype=float), c["masked_acc"].to_numpy(dtype=float)
    for i in range(len(a)):
        if a[i] >= target:
            if i == 0 or a[i] == a[i - 1]:
                return float(s[i])
            return float(s[i - 1] + (target - a[i - 1]) / (a[i] - a[i - 1]) * (s[i] - s[i - 1]))
    return math.nan


def _unmeasured(common: dict, why: str) -> Finding:
    return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))


def _half(ci_low: float, ci_high: float) -> float:
    return (float(ci_high) - float(ci_low)) / 2


def claim_faster(
    kind: str, run: str | None, base: str, equal_steps: pd.DataFrame, heldout: Mapping[str, pd.DataFrame]
) -> Finding:
    """Claim 1 or 2 (module docstring) for one run (``base``: the baseline run). The probes'
    intervals are at the run's bootstrap level, so their half-widths combine as they are."""
    what = CLAIMS[kind]
    common = dict(study=STUDY, claim=f"{what} converges faster (at equal or better downstream performance)",
                  paper=PAPER,
                  measure="baseline's phone-probe error minus the run's, best layer, mean over the intermediate "
                          "steps both saved (points)",
                  source=SOURCE)  # fmt: skip
    if run is None:
        return _unmeasured(common, f"no run of the factor study changes only this factor against {base}")
    a, b = best_errors(equal_steps, base).set_index("step"), best_errors(equal_steps, run).set_index("step")
    steps = sorted(set(a.index) & set(b.index))
    if len(steps) < 2:
        return _unmeasured(common, f"{run}: fewer than two steps with phone-probe errors shared with {base}")
    final, inner = steps[-1], [s for s in steps if 0 < s < steps[-1]]
    if not inner:
        return _unmeasured(common, f"{run} and {base} share no intermediate step (0 < step < final)")
    diffs = np.array([a.loc[s, "value"] - b.loc[s, "value"] for s in inner])
    halves = np.array([math.hypot(_half(a.loc[s, "ci_low"], a.loc[s, "ci_high"]),
                                  _half(b.loc[s, "ci_low"], b.loc[s, "ci_high"])) for s in inner])  # fmt: skip
    value = float(diffs.mean())
    half = float(np.sqrt((halves**2).sum()) / len(inner))
    lo, hi = value - half, value + half
    verdict, why = verdict_positive(value, lo, hi)
    end = float(a.loc[final, "value"] - b.loc[final, "value"])
    end_half = math.hypot(_half(a.loc[final, "ci_low"], a.loc[final, "ci_high"]),
                          _half(b.loc[final, "ci_low"], b.loc[final, "ci_high"]))  # fmt: skip
    if end + end_half < 0 and verdict != FAILS:
        verdict, why = FAILS, f"{why}, but at the final step the run's phone error is worse beyond its interval"
    why += (
        f"; {run} against {base} at steps {', '.join(str(int(s)) for s in inner)}: "
        + ", ".join(f"{d:+.1f}" for d in diffs)
        + f"; final step {int(final)}: {end:+.1f} ± {end_half:.1f} (equal or better needs >= 0 within the interval)"
    )
    why += "; " + _reach(run, base, heldout)
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


def _reach(run: str, base: str, heldout: Mapping[str, pd.DataFrame]) -> str:
    """The steps to reach the baseline's final held-out masked accuracy, in words."""
    h_base, h_run = heldout.get(base), heldout.get(run)
    if h_base is None or h_run is None or not len(h_base) or not len(h_run):
        return "no held-out masked-accuracy curve"
    target = float(h_base.sort_values("step")["masked_acc"].iloc[-1])
    s_base, s_run = steps_to_reach(h_base, target), steps_to_reach(h_run, target)
    run_text = f"{s_run:.0f}" if np.isfinite(s_run) else "not reached"
    return (
        f"steps to reach {base}'s final held-out masked accuracy {100 * target:.1f} %: {base} {s_base:.0f}, "
        f"{run} {run_text} (one seed per run: no interval; targets differ between these runs, so not read by "
        "the verdict)"
    )


def factor_findings(
    runs: Sequence[Mapping],
    equal_steps: pd.DataFrame | None,
    heldout: Mapping[str, pd.DataFrame],
) -> list[Finding]:
    """The Vielzeuf rows of the findings page: none without a factor study (``equal_steps``
    None or fewer than two runs); otherwise one row per claim, read on the first run that
    changes only that factor (the others are not read). ``runs``: per run ``run`` and its
    ``pretrain`` section, the baseline first."""
    if equal_steps is None or len(runs) < 2:
        return []
    base = runs[0]
    kinds = {r["run"]: classify(r["pretrain"], base["pretrain"]) for r in runs[1:]}
    out = []
    for kind in CLAIMS:
        matching = [r for r, k in kinds.items() if k == kind]
        out.append(claim_faster(kind, matching[0] if matching else None, base["run"], equal_steps, heldout))
    return out
