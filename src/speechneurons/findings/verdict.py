"""The one verdict rule of the findings page, symmetric in both directions.

An effect comes with an interval (over the unit of independence) and, where there is one, a
chance range (the central range of the same effect under a null, or under matched controls):

- *holds*: the interval lies above 0 AND the effect lies above its chance range;
- *does not hold*: the interval lies below 0 AND the effect lies below its chance range (the
  opposite of the claim is measured, beyond what chance gives);
- *not measurable here*: anything else, with the reason: the interval includes 0, the effect
  and its interval lie on opposite sides of 0, the effect lies within its chance range (on
  either side of 0), or the design cannot test the claim here (nothing above chance to erase
  or protect, a probe at ceiling, a model or SAE that is under-trained by a stated criterion:
  the caller names the reason in ``cannot_test``).

An effect and an interval on opposite sides of 0 do not show a sign (an interval from a
resampling that shifts the statistic past its estimate).

Counts of selected units are read with the centred interval
(:func:`speechneurons.stats.centred_interval`) rather than the percentile interval, because
their resampling is biased: resampling speakers with replacement repeats their frames, and more
units pass the selection on repeated frames, so the resampled counts can all lie above the
count measured. The utterance-keyed null twin's pitch "ends minus middle" +0.75 had resamples
[+1.78, +17.16]: *holds* on the percentile interval, *not measurable* on the centred one,
[-15.66, +17.16].

A chance range that could not be computed (NaN) is not checked, and the reason says so only
when a chance range was expected (``chance_expected``).
"""

from __future__ import annotations

import math

HOLDS, FAILS, UNMEASURED = "holds", "does not hold", "not measurable here"
CANNOT_TEST = "the design cannot test this here"


def _num(x: float, digits: int = 2) -> str:
    return f"{round(float(x), digits) + 0.0:+.{digits}f}"


def symmetric_verdict(
    value: float,
    ci_low: float,
    ci_high: float,
    chance_low: float = math.nan,
    chance_high: float = math.nan,
    cannot_test: str | None = None,
    chance_expected: bool = False,
) -> tuple[str, str]:
    """Verdict and reason for the claim 'the effect is positive' (module docstring)."""
    if cannot_test:
        return UNMEASURED, f"{CANNOT_TEST}: {cannot_test}"
    if any(math.isnan(x) for x in (value, ci_low, ci_high)):
        return UNMEASURED, "no interval could be computed"
    if ci_low <= 0 <= ci_high:
        return UNMEASURED, "the interval includes 0"
    positive = ci_low > 0
    if value <= 0 if positive else value >= 0:
        return UNMEASURED, (
            f"the effect {_num(value)} and its interval [{_num(ci_low)}, {_num(ci_high)}] lie on opposite sides "
            "of 0: the resampling shifts this statistic past its estimate"
        )
    bound = chance_high if positive else chance_low
    if math.isnan(bound):
        tail = "; no chance range could be computed" if chance_expected else ""
        return (HOLDS, "the interval lies above 0" + tail) if positive else (FAILS, "the interval lies below 0" + tail)
    inside = value <= chance_high if positive else value >= chance_low
    rng = f"[{_num(chance_low)}, {_num(chance_high)}]" if not math.isnan(chance_low) else f"up to {_num(chance_high)}"
    if inside:
        side = "above" if positive else "below"
        return UNMEASURED, f"the interval lies {side} 0 but the effect lies within its chance range {rng}"
    if positive:
        return HOLDS, f"the interval lies above 0 and the effect above its chance range {rng}"
    return FAILS, f"the interval lies below 0 and the effect below its chance range {rng}"


def at_chance_everywhere(observed, chance_high) -> bool:
    """True when no observed count exceeds the upper end of its chance range (layer by layer):
    nothing above chance, so a claim about where such units are cannot be tested."""
    pairs = [(float(o), float(h)) for o, h in zip(observed, chance_high, strict=True)]
    known = [(o, h) for o, h in pairs if not (math.isnan(o) or math.isnan(h))]
    return bool(known) and all(o <= h for o, h in known)


def at_ceiling(values, best: float, tol: float = 1e-9) -> bool:
    """True when every known value sits at the metric's best (accuracy 100, error 0): a probe
    at ceiling before and after a change cannot show the change."""
    known = [float(v) for v in values if not math.isnan(float(v))]
    return bool(known) and all(abs(v - best) <= tol for v in known)


def balance_words(row, what: str = "the draws", source: str = "control_balance.tsv") -> str:
    """How well a row's controls match (``control_balanced``: the share of ``what`` within the
    balance criterion, e.g. the draws of control_effects.tsv), with a warning below one half; ''
    when the row has no such column or no value."""
    share = float(row["control_balanced"]) if "control_balanced" in row else math.nan
    if math.isnan(share):
        return ""
    text = f"; {share:.0%} of {what} within the balance criterion ({source})"
    if share < 0.5:
        text += (
            ": the compared neurons' rates have no close match among the other neurons, "
            "so the control is weaker than it reads"
        )
    return text


def matched_words(row, group_frames: str) -> str:
    """What a row's controls were matched on (``matched_on``: 'in_group rate', the rate on
    ``group_frames``, or 'overall rate'), as a clause of a reason; '' when the row does not say."""
    matched = {
        "in_group rate": f"the activation rate on {group_frames}",
        "overall rate": "the overall activation rate",
    }
    label = str(row.get("matched_on", "") or "")
    return f"; controls matched on {matched[label]}" if label in matched else ""


def read_against_controls(verdict: str, why: str, row, level: float) -> tuple[str, str]:
    """A verdict also read against the distribution of the same effect for matched control
    draws (a row of control_effects.tsv: ``effect``, ``n_controls``, ``control_low``,
    ``control_high``, ``control_p``, ``control_p_below``; None when not scored). *holds* needs
    the effect's rank p-value among the controls at most 1 - level, *does not hold* the same
    in the opposite direction; otherwise the verdict becomes *not measurable here*."""
    if row is None:
        return verdict, why + "; no control distribution was scored"
    alpha = 1.0 - float(level)
    n = int(row["n_controls"])
    text = (
        f"fixed-probe effect {_num(row['effect'])} against {n} matched control draws "
        f"[{_num(row['control_low'])}, {_num(row['control_high'])}], rank p {row['control_p']:.3f}"
    )
    if n and 1.0 / (n + 1) > alpha:
        text += f" (with {n} draws no rank p-value can reach {alpha:g})"
    text += balance_words(row)
    if verdict == HOLDS and not row["control_p"] <= alpha:
        return UNMEASURED, f"{why}, but the effect lies within its control distribution: {text}"
    if verdict == FAILS and not row["control_p_below"] <= alpha:
        return UNMEASURED, f"{why}, but the effect lies within its control distribution: {text}"
    return verdict, f"{why}; {text}"
