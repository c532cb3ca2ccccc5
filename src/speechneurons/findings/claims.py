"""One row of the findings table and the rules that turn an effect into a verdict.

An effect is a number with a percentile interval and, where there is one, a chance level (the
central range of the same number under a null or a matched control). The verdict rule is the
same for every claim that an effect is positive:

- *holds*: the interval lies above 0 and the effect lies above the chance range;
- *does not hold*: the interval lies below 0 and the effect lies below the chance range (the
  opposite is measured, beyond chance);
- *not measurable here*: anything else (the interval includes 0, the effect lies within its
  chance range on either side of 0, or the design cannot test the claim here), with the
  reason written next to it (speechneurons.findings.verdict).

An effect measured on every unit, with no resample to give it an interval (a share of all the
neurons of a layer), is read against its chance range alone (``verdict_above_chance``): *holds*
above the range, *does not hold* below it, *not measurable here* inside it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

HOLDS, FAILS, UNMEASURED = "holds", "does not hold", "not measurable here"
VERDICTS = (HOLDS, FAILS, UNMEASURED)


@dataclass(frozen=True)
class Finding:
    """One claim of a paper checked on this run (a row of findings.tsv)."""

    study: str
    """The paper whose claim this is."""
    claim: str
    """The claim in words."""
    paper: str
    """The paper's numbers."""
    measure: str
    """What this run measures for the claim (the effect, in words, with its unit)."""
    value: float
    """This run's effect (NaN when nothing could be measured)."""
    ci_low: float
    ci_high: float
    chance_low: float
    """Central range of the effect under the null or matched control (NaN when none)."""
    chance_high: float
    verdict: str
    """One of VERDICTS."""
    why: str
    """The reason for the verdict, and what else the reader needs (controls, caveats)."""
    source: str
    """The result file(s) the numbers come from."""


COLUMNS = list(Finding.__dataclass_fields__)


def no_numbers(**fields) -> dict:
    """The fields of a Finding with no effect, interval or chance range (all NaN), plus ``fields``:
    a claim the run cannot measure, with its verdict and reason."""
    return dict(value=math.nan, ci_low=math.nan, ci_high=math.nan, chance_low=math.nan, chance_high=math.nan, **fields)


def verdict_positive(
    value: float, ci_low: float, ci_high: float, chance_high: float = math.nan, chance_low: float = math.nan
) -> tuple[str, str]:
    """Verdict and reason for the claim 'the effect is positive': the symmetric rule of
    :func:`speechneurons.findings.verdict.symmetric_verdict` (module docstring)."""
    from speechneurons.findings.verdict import symmetric_verdict

    return symmetric_verdict(value, ci_low, ci_high, chance_low, chance_high)


def verdict_above_chance(value: float, chance_low: float, chance_high: float) -> tuple[str, str]:
    """Verdict and reason for 'the effect lies above chance' when the effect has no interval of
    its own, only the central range of the same effect under a null (module docstring)."""
    if any(math.isnan(x) for x in (value, chance_low, chance_high)):
        return UNMEASURED, "no chance range could be computed"
    if value > chance_high:
        return HOLDS, "the effect lies above its chance range"
    if value < chance_low:
        return FAILS, "the effect lies below its chance range (the opposite is measured)"
    return UNMEASURED, "the effect lies within its chance range"


def table(findings: list[Finding]) -> pd.DataFrame:
    """The findings as a table (columns COLUMNS)."""
    return pd.DataFrame([asdict(f) for f in findings], columns=COLUMNS)


def fmt(x: float, digits: int = 1) -> str:
    """A number for the page: fixed digits with a sign (never "-0.00"), or 'n/a'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{round(float(x), digits) + 0.0:+.{digits}f}"
