"""The findings page: one self-contained HTML file from a findings table."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from speechneurons.findings.claims import FAILS, HOLDS, UNMEASURED, fmt
from speechneurons.io import atomic_path

COLOURS = {HOLDS: "#d8f0d8", FAILS: "#f6d5d5", UNMEASURED: "#eeeeee"}

STYLE = """
body { font-family: sans-serif; margin: 1.5em; max-width: 80em; }
table { border-collapse: collapse; width: 100%; font-size: 0.9em; table-layout: fixed; }
col.claim { width: 15%; } col.paper { width: 17%; } col.effect { width: 13%; }
col.interval, col.chance { width: 9%; } col.verdict { width: 10%; } col.why { width: 27%; }
td { overflow-wrap: break-word; }
th, td { border: 1px solid #bbb; padding: 0.35em 0.5em; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
p.note { color: #444; }
"""


def splits_statement(
    property_splits: Sequence[str],
    test_fraction: float,
    speaker_disjoint: bool,
    validation_fraction: float,
    gender_folds: int,
) -> str:
    """What each number was selected and scored on, in one paragraph (the findings page and
    the captions say the same)."""
    selected = ", ".join(property_splits) if property_splits else "all utterances, test included"
    test = f"{test_fraction:.0%} of the {'speakers' if speaker_disjoint else 'utterances'}"
    return (
        f"Splits: property neurons (and every neuron set the experiments protect, prune or erase) are selected "
        f"on {selected}; the test split is {test}. Probes are trained on train; the 'best' probe layer is "
        f"chosen on {validation_fraction:.0%} of each speaker's train utterances held out, never on test; "
        f"probes are scored on the test utterances, the gender probe on speakers it never saw "
        f"({gender_folds} speaker folds, interval over speakers), SID on the utterance split."
    )


def _interval(lo: float, hi: float, digits: int = 2) -> str:
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (lo, hi)):
        return "n/a"
    return f"[{fmt(lo, digits)}, {fmt(hi, digits)}]"


def _counts(findings: pd.DataFrame) -> str:
    counts = findings["verdict"].value_counts()
    return ", ".join(f"{int(counts.get(v, 0))} {v}" for v in (HOLDS, FAILS, UNMEASURED))


def _study_table(rows: pd.DataFrame) -> list[str]:
    e = html.escape
    parts = [
        '<table><colgroup><col class="claim"><col class="paper"><col class="effect"><col class="interval">'
        '<col class="chance"><col class="verdict"><col class="why"></colgroup>'
        "<tr><th>claim</th><th>paper</th><th>this run: effect</th><th>interval</th>"
        "<th>chance range</th><th>verdict</th><th>why, and what else to know</th></tr>",
    ]
    for r in rows.itertuples(index=False):
        parts.append(
            f'<tr style="background:{COLOURS.get(r.verdict, "#fff")}">'
            f"<td>{e(r.claim)}</td><td>{e(r.paper)}</td>"
            f'<td><span class="num">{fmt(r.value, 2)}</span><br><small>{e(r.measure)}</small></td>'
            f'<td class="num">{_interval(r.ci_low, r.ci_high)}</td>'
            f'<td class="num">{_interval(r.chance_low, r.chance_high)}</td>'
            f"<td><b>{e(r.verdict)}</b></td><td>{e(r.why)}<br><small>from {e(r.source)}</small></td></tr>"
        )
    parts.append("</table>")
    return parts


def _plain_table(heading: str, note: str, frame: pd.DataFrame) -> list[str]:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in frame.columns)
    body = [
        "<tr>" + "".join(f'<td class="num">{e(str(v))}</td>' for v in r) + "</tr>"
        for r in frame.itertuples(index=False)
    ]
    return [f"<h2>{e(heading)}</h2>", f'<p class="note">{e(note)}</p>', f"<table><tr>{head}</tr>", *body, "</table>"]


def render(
    findings: pd.DataFrame,
    title: str,
    context: Sequence[str],
    level: float,
    tables: Sequence[tuple[str, str, pd.DataFrame]] = (),
) -> str:
    """The page as an HTML string: a title, the paragraphs of ``context`` (the run, its splits),
    how to read a verdict, a count of the verdicts, then per study (in the order of its first
    row) a heading, its own count and one table row per claim; then each of ``tables``
    (heading, note, table) as a plain table."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        *(f"<p>{e(p)}</p>" for p in context),
        f"<p class=\"note\">Each row: a claim of the paper, the paper's numbers, this run's effect with its "
        f"{int(round(100 * level))} % interval (or its range over the PWCCA trials, where the row says so) and the "
        "central range of the same effect under chance (a "
        "permutation null or a matched control). <b>holds</b>: the interval lies above 0 and the effect above "
        "the chance range (an effect with no interval: above the chance range); <b>does not hold</b>: the "
        "interval lies below 0 and the effect below the chance range (an effect with no interval: below the "
        "chance range); <b>not measurable here</b>: anything else, with the reason, including an effect inside "
        "its chance range on either side of 0 and a claim the design cannot test here. Some claims add "
        "conditions of their own, given with the verdict.</p>",
        f"<p><b>Verdicts:</b> {e(_counts(findings))}.</p>",
    ]
    for study in pd.unique(findings["study"]):
        rows = findings[findings["study"] == study]
        parts += [f"<h2>{e(str(study))}</h2>", f"<p>{e(_counts(rows))}.</p>", *_study_table(rows)]
    for heading, note, frame in tables:
        parts += _plain_table(heading, note, frame)
    parts.append("</body></html>")
    return "\n".join(parts)


def write_page(
    findings: pd.DataFrame,
    path: str | Path,
    title: str,
    context: Sequence[str],
    level: float,
    tables: Sequence[tuple[str, str, pd.DataFrame]] = (),
):
    """Write :func:`render` atomically to ``path``."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(render(findings, title, context, level, tables), encoding="utf-8")
