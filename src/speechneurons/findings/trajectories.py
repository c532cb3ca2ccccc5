"""The claims of the layer-wise analysis during pretraining (Pasad et al.; Vielzeuf 2024) checked
on one run's trajectories tables (``trajectories/<model>/``), at checkpoint ``final`` (the only
checkpoint of a Hugging Face model). The papers' statements are quoted in words: their numbers
are not in this project, and none is made up here.

1. Phone information peaks in an inner layer, not the top. Effect: the phone PWCCA of the inner
   layer l* (0 < l* < L) minus the top layer L's, x100, read on the test parts. l* is the inner
   layer with the highest mean DEV PWCCA over the trials (``pwcca_trials.tsv``: ``dev_pwcca``;
   the lower layer on ties): no test part scores the choice (a trial's fit does use the other
   trials' test parts, as in the reference), so the maximum over the inner layers does not
   lean the effect toward the claim (chosen on the test scores it is read on, it made equal
   layers say *holds* on 28 % of simulated nulls with 3 trials). Every trial
   scores every layer on the same held-out parts, so the difference is taken per trial; the
   effect is its mean and the interval its smallest and largest trial value (it says the
   trials agree; it is not a 95 % interval). Chance range: the central ``level`` range of the
   sign-flip null, the mean over trials with each trial's difference negated or not (the two
   layers' labels exchanged within a trial), over all 2^n sign patterns for n <= 12 trials,
   else ``resamples`` seeded ones. Verdict: ``verdict_positive`` with that chance range, and a
   *holds* (*does not hold*) also needs the one-sided sign-flip p at most (1 - level) / 2.
   With n trials the smallest p is 2^-n, so fewer than 6 trials (the default 3: 1/8) can
   never hold or fail at level 0.95: *not measurable here*, with the numbers. *Does not hold*
   also when layer 0 (the input of layer 1) has more mean dev phone PWCCA than every inner
   layer: the peak is then the input, not an inner layer. *Not measurable here*: the top layer
   or every inner layer unmeasured, or a trials table without ``dev_pwcca`` (an old table; no
   silent fall-back to the test scores). The sign flips test the sign of the paired
   difference, not its size, so a size is required too: with enough trials, *does not hold*
   when no trial puts l* ``MIN_PEAK`` (1) point or more above the top, and a *holds* needs
   every trial at or above it (else *not measurable here*). Without it, a top that lost a
   quarter of a point in every trial, a near-copy of the layer below, was a peak
   (docs/positive-controls.md, section 2b).
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
from speechneurons.stats import percentile_interval

STUDY = "Pasad et al. / Vielzeuf 2024 (layer-wise analysis)"
# Claim 1's smallest inner peak, in phone PWCCA points (x100): four times what the top of the
# layer-wise null twin, a near-copy of the layer below it, loses in every trial (0.25), a sixth of
# the planted control's peak (6.40; docs/positive-controls.md, section 2b).
MIN_PEAK = 1.0
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


#: Trials up to which the sign-flip null of claim 1 enumerates every sign pattern (2**12 = 4096);
#: above, it draws ``resamples`` seeded patterns.
MAX_EXACT_FLIPS = 12


def sign_flip_null(diffs, resamples: int, seed: int, max_exact: int = MAX_EXACT_FLIPS) -> tuple[np.ndarray, bool]:
    """The mean of the paired differences ``diffs`` with the sign of each flipped (the two layers'
    labels exchanged within a trial): over all 2**n sign patterns, exact (True), when n <=
    ``max_exact``, else over ``resamples`` patterns drawn with ``numpy.random.default_rng(seed)``
    (False)."""
    d = np.asarray(diffs, dtype=np.float64).ravel()
    n = d.size
    if n == 0:
        return np.zeros(0), True
    if n <= max_exact:
        bits = (np.arange(2**n)[:, None] >> np.arange(n)) & 1
        return (1.0 - 2.0 * bits) @ d / n, True
    signs = np.random.default_rng(seed).choice(np.array([-1.0, 1.0]), size=(int(resamples), n))
    return signs @ d / n, False


def _tail_p(observed: float, null: np.ndarray, exact: bool, upper: bool) -> float:
    """One-sided p of ``observed`` in the sign-flip ``null``: the share of sign patterns at least
    as extreme (exact; the observed pattern is one of them), or (1 + #) / (1 + draws) (sampled)."""
    tol = 1e-12 * max(1.0, abs(observed))
    hits = int(np.sum(null >= observed - tol)) if upper else int(np.sum(null <= observed + tol))
    return hits / len(null) if exact else (1 + hits) / (1 + len(null))


def _too_few(n: int, smallest: float, level: float) -> str:
    """Why ``n`` paired trials cannot put the effect outside its central ``level`` chance range."""
    tail = (1 - level) / 2
    return (
        f"{n} trials give a sign-flip null whose smallest p is {smallest:.3g}, above {tail:g} (each tail of the "
        f"{level:g} chance range): too few to hold or to fail on the paired difference; it needs at least "
        f"{math.ceil(math.log2(1 / tail))} trials (trajectories.pwcca.trials, at most parts // 2)"
    )


def _trial_table(trials: pd.DataFrame | None, checkpoint: str) -> pd.DataFrame:
    t = _at(trials, checkpoint)
    return t[t["view"] == "phone"] if len(t) else t


def claim_phone_peak(
    pwcca: pd.DataFrame | None,
    trials: pd.DataFrame | None,
    num_layers: int,
    checkpoint: str = CHECKPOINT,
    *,
    level: float,
    resamples: int,
    seed: int,
) -> Finding:
    """Claim 1 (module docstring); ``level``: of the chance range, ``resamples`` and ``seed``: of
    the sign-flip null when it is sampled (more than ``MAX_EXACT_FLIPS`` trials)."""
    common = dict(study=STUDY, claim="Phone information peaks in an inner layer, not the top", paper=PAPER_PEAK,
                  measure=f"phone PWCCA of the inner layer best on dev minus the top layer's, on the test parts, "
                          f"checkpoint {checkpoint} (x100)",
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
    inner = [x for x in layers if 0 < x < top]
    if not inner:
        why = f"no inner layer between the input and the top was measured (layers {layers})"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    t = _trial_table(trials, checkpoint)
    if t.empty:
        why = f"no phone rows at checkpoint {checkpoint} in pwcca_trials.tsv: the peak layer is chosen on the dev parts"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if "dev_pwcca" not in t or t["dev_pwcca"].isna().all():
        why = (
            "pwcca_trials.tsv has no dev_pwcca (a table written before the dev scores were kept): the peak layer "
            "must be chosen on the dev parts, never on the test parts it is then read on; rerun the trajectories stage"
        )
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    dev = t.groupby(t["layer"].astype(int))["dev_pwcca"].mean().reindex(layers)
    test = t.groupby(t["layer"].astype(int))["test_pwcca"].mean().reindex(layers)
    dev_inner = dev.reindex(inner)
    peak = int(dev_inner.index[int(np.nanargmax(dev_inner.to_numpy(float)))])  # the lower layer on ties
    diffs = _paired(t, checkpoint, "phone", peak, top)
    if not len(diffs):
        why = f"no trial scored both layer {peak} and the top layer {top}"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    value, lo, hi = 100 * float(diffs.mean()), 100 * float(diffs.min()), 100 * float(diffs.max())
    null, exact = sign_flip_null(100 * diffs, resamples, seed)
    chance_low, chance_high = percentile_interval(null, level)
    p_above, p_below = _tail_p(value, null, exact, True), _tail_p(value, null, exact, False)
    tail = (1 - level) / 2
    smallest = 2.0 ** -len(diffs) if exact else max(2.0 ** -len(diffs), 1 / (1 + len(null)))
    verdict, why = verdict_positive(value, lo, hi, chance_high=chance_high, chance_low=chance_low)
    if smallest > tail:
        verdict, why = UNMEASURED, f"{_too_few(len(diffs), smallest, level)}; measured: {why}"
    elif (verdict == HOLDS and p_above > tail) or (verdict == FAILS and p_below > tail):
        p = p_above if verdict == HOLDS else p_below
        verdict, why = UNMEASURED, f"{why}, but its sign-flip p {p:.3g} is above {tail:g}"
    elif verdict != FAILS and hi < MIN_PEAK:
        verdict, why = (
            FAILS,
            (
                f"no trial puts layer {peak} {MIN_PEAK:g} point or more above the top (largest {fmt(hi, 2)}), the "
                f"smallest inner peak the rule counts; measured: {why}"
            ),
        )
    elif verdict == HOLDS and lo < MIN_PEAK:
        verdict, why = (
            UNMEASURED,
            (
                f"{why}, but its smallest trial ({fmt(lo, 2)}) is below {MIN_PEAK:g} point, the smallest inner peak "
                "the rule counts"
            ),
        )
    if 0 in dev.index and float(dev.loc[0]) > float(dev_inner.max()) and verdict != FAILS:
        verdict, why = FAILS, "phone PWCCA on dev is highest at layer 0 (the input of layer 1), not in an inner layer"
    curve = lambda s: ", ".join(f"{int(k)}: {v:.3f}" for k, v in s.items())  # noqa: E731
    why += (
        f"; peak inner layer on dev: layer {peak} ({float(dev.loc[peak]):.3f}), top layer {top} "
        f"({float(dev.loc[top]):.3f}); phone PWCCA per layer, dev {curve(dev)}; test {curve(test)}; "
        f"interval: smallest and largest of the {len(diffs)} paired trials (test parts); chance: sign flips of the "
        f"paired differences ({'all ' + str(len(null)) if exact else str(len(null)) + ' drawn'}), p above "
        f"{p_above:.3g}, p below {p_below:.3g}"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=chance_low, chance_high=chance_high,
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
    *,
    level: float,
    resamples: int,
    seed: int,
) -> list[Finding]:
    """Every claim of the layer-wise analysis on one run's tables (module docstring): ``findings``,
    ``pwcca``, ``trials`` (``pwcca_trials.tsv``) and ``reset_top`` of ``trajectories/<model>/``
    (None when absent); ``num_layers``: the model's transformer layers (L); ``level``,
    ``resamples`` and ``seed``: claim 1's chance range (bootstrap.level, bootstrap.resamples,
    seed)."""
    return [
        claim_phone_peak(pwcca, trials, num_layers, level=level, resamples=resamples, seed=seed),
        claim_top_turns_back(findings, num_layers),
        claim_reset_top(reset_top, reset_checkpoint),
    ]
