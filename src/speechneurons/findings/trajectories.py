"""The claims of the layer-wise analysis during pretraining (Pasad et al.; Vielzeuf 2024) checked
on one run's trajectories tables (``trajectories/<model>/``), at checkpoint ``final`` (the only
checkpoint of a Hugging Face model). The papers' statements are quoted in words: their numbers
are not in this project, and none is made up here.

1. Phone information peaks in an inner layer, not the top. Effect: the phone PWCCA of the best
   inner layer l* (0 < l* < L, the highest mean phone PWCCA among them; it is the peak layer of
   ``findings.tsv`` whenever that peak is inner) minus the top layer L's, x100. Every PWCCA
   trial scores every layer on the same held-out part, so the difference is taken per trial
   (``pwcca_trials.tsv``); the effect is its mean and the interval its smallest and largest
   trial value (3 trials by default: the range says the trials agree, it is not a 95 %
   interval). No chance range. Verdict: ``verdict_positive``; and *does not hold* when layer 0
   (the input of layer 1) has more phone PWCCA than every inner layer: the peak is then the
   input, not an inner layer. Needs an inner layer and the model's top layer among the
   measured ones.
2. The top layers turn back toward the input ("autoencoder behaviour"). Effect: the rise of the
   top layer's log-Mel PWCCA over the lowest layer below it (``findings.tsv``: ``mel_rise``),
   x100, with its paired range over the trials (``mel_rise_low`` .. ``mel_rise_high``).
   Verdict: ``verdict_positive``; a *holds* also needs ``mel_rises_again`` (the lowest layer is
   inner and the curve falls from layer 0 to it in every trial), otherwise *not measurable
   here*: a curve that only grows with depth does not turn back. No chance range; the
   front-end view's rise is given beside it.
3. Re-initialising the top n > 0 layers before CTC fine-tuning lowers the phone error rate.
   Effect: PER(n = 0) - PER(n*), in points, n* the n > 0 with the lowest dev PER (the dev part
   of train chooses, never the test split; the smaller n on ties), with the paired bootstrap
   interval over test utterances of ``reset_top.tsv`` (``delta_vs_0``, sign flipped). The
   control is n = 0 fine-tuned the same way (same steps, data and learning-rate choice); no
   separate chance range. Verdict: ``verdict_positive``; *not measurable here* when the n = 0
   model's test PER is at or above ``UNTRAINED_PER`` (80 %): the fine-tuning has not learned,
   and the difference measures how soon each model starts learning, not the claim.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd

from speechneurons.findings.claims import FAILS, HOLDS, UNMEASURED, Finding, fmt, no_numbers, verdict_positive

STUDY = "Pasad et al. / Vielzeuf 2024 (layer-wise analysis)"
CHECKPOINT = "final"
PAPER_PEAK = (
    "Pasad et al.: phone information (PWCCA with one-hot phones) peaks in the middle layers and falls in the last "
    "ones; stated in words here, no number quoted"
)
PAPER_TURN = (
    "Pasad et al., Vielzeuf 2024: the top layers hold information closer to the input ('autoencoder' behaviour); "
    "Vielzeuf: less pronounced in HuBERT; stated in words here, no number quoted"
)
PAPER_RESET = (
    "Vielzeuf 2024: fine-tuning all layers performs worse than re-initialising the top layers first (speech "
    "recognition), attributed to the autoencoder behaviour; stated in words here, no number quoted"
)


def _flag(x) -> bool:
    """A true/false column read back from a TSV (bool, 'True'/'False', or NaN = false)."""
    if isinstance(x, str):
        return x.strip().lower() == "true"
    return bool(x) if x is not None and x == x else False


def _at(table: pd.DataFrame | None, checkpoint: str) -> pd.DataFrame:
    if table is None or "checkpoint" not in table:
        return pd.DataFrame()
    return table[table["checkpoint"].astype(str) == checkpoint]


def _paired(trials: pd.DataFrame | None, checkpoint: str, view: str, a: int, b: int) -> np.ndarray:
    """Per trial, test PWCCA of layer ``a`` minus layer ``b`` (the same held-out part)."""
    t = _at(trials, checkpoint)
    if t.empty:
        return np.zeros(0)
    t = t[t["view"] == view]
    x = t[t["layer"] == a].set_index("trial")["test_pwcca"]
    y = t[t["layer"] == b].set_index("trial")["test_pwcca"]
    d = (x - y.reindex(x.index)).to_numpy(float)
    return d[np.isfinite(d)]


def claim_phone_peak(
    pwcca: pd.DataFrame | None, trials: pd.DataFrame | None, num_layers: int, checkpoint: str = CHECKPOINT
) -> Finding:
    """Claim 1 (module docstring)."""
    common = dict(study=STUDY, claim="Phone information peaks in an inner layer, not the top", paper=PAPER_PEAK,
                  measure=f"phone PWCCA of the best inner layer minus the top layer's, checkpoint {checkpoint} (x100)",
                  source="trajectories/<model>/pwcca.tsv, pwcca_trials.tsv")  # fmt: skip
    phone = _at(pwcca, checkpoint)
    phone = phone[phone["view"] == "phone"].sort_values("layer") if len(phone) else phone
    if phone.empty:
        why = f"no phone PWCCA at checkpoint {checkpoint} (trajectories.checkpoints, trajectories.pwcca.views)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    layers = phone["layer"].astype(int).tolist()
    top = max(layers)
    if top != num_layers:
        why = f"the top layer {num_layers} was not measured (trajectories.layers: {layers})"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    inner = phone[(phone["layer"] > 0) & (phone["layer"] < top)]
    if inner.empty:
        why = f"no inner layer between the input and the top was measured (layers {layers})"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    best = inner.loc[inner["pwcca"].idxmax()]
    peak, top_value = int(best["layer"]), float(phone["pwcca"].iloc[-1])
    diffs = _paired(trials, checkpoint, "phone", peak, top)
    if len(diffs):
        value, lo, hi = 100 * float(diffs.mean()), 100 * float(diffs.min()), 100 * float(diffs.max())
    else:
        value, lo, hi = 100 * (float(best["pwcca"]) - top_value), math.nan, math.nan
    verdict, why = verdict_positive(value, lo, hi)
    first = phone[phone["layer"] == 0]
    if len(first) and float(first["pwcca"].iloc[0]) > float(best["pwcca"]) and verdict != FAILS:
        verdict, why = FAILS, "phone PWCCA is highest at layer 0 (the input of layer 1), not in an inner layer"
    curve = ", ".join(f"{int(r.layer)}: {r.pwcca:.3f}" for r in phone.itertuples(index=False))
    why += (
        f"; peak among inner layers: layer {peak} ({float(best['pwcca']):.3f}), top layer {top} ({top_value:.3f}); "
        f"phone PWCCA per layer {curve}; interval: smallest and largest of the {len(diffs)} paired trials"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


def claim_top_turns_back(
    findings: pd.DataFrame | None, num_layers: int, checkpoint: str = CHECKPOINT, across: bool = True
) -> Finding:
    """Claim 2 (module docstring), at ``checkpoint``; with ``across``, the reason also gives the
    effect and verdict at every other checkpoint of ``findings`` (the claim read across
    pretraining, not at one checkpoint only)."""
    found = _top_turns_back(findings, num_layers, checkpoint)
    have = across and findings is not None and "checkpoint" in findings
    others = sorted({str(c) for c in findings["checkpoint"]} - {checkpoint}) if have else []
    if not others:
        return found
    parts = []
    for ck in others:
        f = _top_turns_back(findings, num_layers, ck)
        parts.append(f"{ck}: {fmt(f.value, 2)} [{fmt(f.ci_low, 2)}, {fmt(f.ci_high, 2)}] {f.verdict}")
    return dataclasses.replace(found, why=f"{found.why}; at the other checkpoints: {'; '.join(parts)}")


def _top_turns_back(findings: pd.DataFrame | None, num_layers: int, checkpoint: str) -> Finding:
    common = dict(study=STUDY, claim="The top layers turn back toward the input (autoencoder behaviour)",
                  paper=PAPER_TURN,
                  measure=f"top layer's log-Mel PWCCA minus the lowest layer's below it, checkpoint {checkpoint} "
                          "(x100)",
                  source="trajectories/<model>/findings.tsv")  # fmt: skip
    rows = _at(findings, checkpoint)
    if rows.empty:
        why = f"no findings.tsv row at checkpoint {checkpoint} (trajectories.checkpoints)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    r = rows.iloc[0]
    if pd.isna(r.get("mel_rise", math.nan)):
        why = "no log-Mel PWCCA curve (trajectories.pwcca.views has no mel, or too few layers)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    top, low = int(r["mel_top_layer"]), int(r["mel_min_layer"])
    if top != num_layers:
        why = f"the top layer {num_layers} was not measured (trajectories.layers: the highest is {top})"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    value, lo, hi = (100 * float(r[c]) for c in ("mel_rise", "mel_rise_low", "mel_rise_high"))
    verdict, why = verdict_positive(value, lo, hi)
    if verdict == HOLDS and not _flag(r.get("mel_rises_again")):
        verdict = UNMEASURED
        why = (
            "the log-Mel PWCCA is lowest at layer 0: it grows with depth and does not turn back"
            if low == 0
            else f"the top rises above layer {low}, but the curve does not fall from layer 0 to it in every trial"
        )
    why += (
        f"; log-Mel PWCCA {float(r['mel_top']):.3f} at the top layer {top}, {float(r['mel_min']):.3f} at layer {low} "
        "(the lowest below the top); interval: smallest and largest paired trial"
    )
    if not pd.isna(r.get("frontend_rise", math.nan)):
        why += (
            f"; front-end view: rise {fmt(100 * r['frontend_rise'], 2)} [{fmt(100 * r['frontend_rise_low'], 2)}, "
            f"{fmt(100 * r['frontend_rise_high'], 2)}], falls and rises again: "
            f"{'yes' if _flag(r.get('frontend_rises_again')) else 'no'}"
        )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


#: A phone error rate (%) at or above which the n = 0 fine-tuning has not learned to recognise
#: phones (an empty output scores 100 %): a difference to n > 0 then says which model starts
#: learning sooner, not which ends better, so claim 3 is not measurable.
UNTRAINED_PER = 80.0


def claim_reset_top(reset_top: pd.DataFrame | None, checkpoint: str = CHECKPOINT) -> Finding:
    """Claim 3 (module docstring); ``checkpoint``: the one the fine-tuning starts from."""
    common = dict(study=STUDY,
                  claim="Re-initialising the top layers before CTC fine-tuning lowers the phone error rate",
                  paper=PAPER_RESET,
                  measure=f"PER with n = 0 minus PER with the best n > 0 (chosen on dev), from {checkpoint} (points)",
                  source="trajectories/<model>/reset_top.tsv")  # fmt: skip
    if reset_top is None or not len(reset_top):
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why="no reset-top fine-tuning in this run"))
    s = reset_top.assign(n_reset=reset_top["n_reset"].astype(int)).set_index("n_reset").sort_index()
    if 0 not in s.index:
        why = "n = 0, the control, was not fine-tuned (trajectories.reset_top.n_reset)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    others = s[s.index > 0]
    if others.empty:
        why = "no n > 0 was fine-tuned (trajectories.reset_top.n_reset)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if "dev_per" in others and others["dev_per"].notna().any():
        best, chosen = int(others["dev_per"].idxmin()), "the lowest dev PER"
    else:
        best, chosen = int(others["per"].idxmin()), "the lowest test PER (no dev PER: chosen after the fact)"
    r, zero = others.loc[best], s.loc[0]
    value, lo, hi = -float(r["delta_vs_0"]), -float(r["delta_high"]), -float(r["delta_low"])
    verdict, why = verdict_positive(value, lo, hi)
    if float(zero["per"]) >= UNTRAINED_PER:
        verdict = UNMEASURED
        why = (
            f"the fine-tuning under-trains (test PER {float(zero['per']):.1f} % with n = 0, at or above "
            f"{UNTRAINED_PER:g} %): the difference says which model starts learning sooner, not the claim; "
            f"raise trajectories.reset_top.steps (configs/synth-long.yaml); measured: {why}"
        )
    per = ", ".join(f"n = {n}: {float(x):.2f}" for n, x in s["per"].items())
    why += (
        f"; n = {best} ({chosen}); test PER {float(zero['per']):.2f} [{float(zero['per_low']):.2f}, "
        f"{float(zero['per_high']):.2f}] with n = 0, {float(r['per']):.2f} [{float(r['per_low']):.2f}, "
        f"{float(r['per_high']):.2f}] with n = {best}; PER per n {per}; control: n = 0 fine-tuned with the same steps, "
        "data and learning-rate choice; interval: paired bootstrap over test utterances"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


def trajectory_findings(
    findings: pd.DataFrame | None,
    pwcca: pd.DataFrame | None,
    trials: pd.DataFrame | None,
    reset_top: pd.DataFrame | None,
    num_layers: int,
    reset_checkpoint: str = CHECKPOINT,
) -> list[Finding]:
    """Every claim of the layer-wise analysis on one run's tables (module docstring): ``findings``,
    ``pwcca``, ``trials`` (``pwcca_trials.tsv``) and ``reset_top`` of ``trajectories/<model>/``
    (None when absent); ``num_layers``: the model's transformer layers (L)."""
    return [
        claim_phone_peak(pwcca, trials, num_layers),
        claim_top_turns_back(findings, num_layers),
        claim_reset_top(reset_top, reset_checkpoint),
    ]
