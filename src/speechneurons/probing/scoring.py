"""Scores of probe losses with percentile bootstrap intervals (:mod:`speechneurons.stats`).

Losses are kept per test utterance (sum and count, per stratum: phone type for ``phone``,
pitch bin for ``f0``). A metric over a set U of units is the ratio
m(U) = sum_u loss_u / sum_u n_u. Its percentile bootstrap CI resamples the units of U with
replacement B times (seeded); a difference between two variants resamples the same units for
both (paired bootstrap). The unit is the utterance, except for gender, whose probe is scored
on unseen speakers: there the unit is the speaker.
"""

from __future__ import annotations

import pandas as pd

from speechneurons.probing.features import FRAME_TASKS
from speechneurons.stats import bootstrap_delta, bootstrap_ratio

METRICS = {
    "phone": "frame_phone_error_pct",
    "sid": "sid_accuracy_pct",
    "gender": "gender_accuracy_pct",
    "f0": "log_f0_mse",
}


ERRORS = {"phone": "frame_phone_error_pct", "sid": "sid_error_pct", "gender": "gender_error_pct", "f0": "log_f0_mse"}


def eval_groups(losses: pd.DataFrame, task: str) -> list[tuple[str, pd.Series]]:
    """Named subsets of a task's loss rows: all, per gender, per stratum (phone type / pitch bin)."""
    groups = [("all", pd.Series(True, index=losses.index))]
    for g in sorted(losses["gender"].astype(str).unique()):
        groups.append((f"gender={g}", losses["gender"].astype(str) == g))
    if task in FRAME_TASKS:
        for s in sorted(losses["stratum"].astype(str).unique()):
            groups.append(
                (f"{'phone_type' if task == 'phone' else 'pitch_bin'}={s}", losses["stratum"].astype(str) == s)
            )
    return groups


#: the unit a task's interval resamples: speakers for gender (scored on unseen speakers, so
#: its errors are correlated within a speaker), utterances otherwise.
BOOTSTRAP_UNIT = {"gender": "speaker"}


def _per_unit(losses: pd.DataFrame, task: str = "") -> pd.DataFrame:
    """Loss sums and counts per resampling unit of the task (see BOOTSTRAP_UNIT)."""
    return losses.groupby(BOOTSTRAP_UNIT.get(task, "utt_id"))[["loss_sum", "n_items"]].sum()


def to_metric(task: str, error: float, kind: str = "display") -> float:
    """Error (mean loss) -> the table metric: percent for rates, accuracy = 100 - error % for
    sid/gender in the display metric; F0 stays an MSE."""
    if task == "f0":
        return error
    pct = 100.0 * error
    return 100.0 - pct if kind == "display" and task in ("sid", "gender") else pct


def compare(
    variant: pd.DataFrame,
    base: pd.DataFrame | None,
    resamples: int,
    seed: int,
    level: float | None,
    kind: str = "display",
    groups: str = "all",
) -> pd.DataFrame:
    """Metric with CI of ``variant`` per (task, layer, eval group), and its paired difference
    to ``base`` (same task and layer) with CI. ``kind`` 'display' (METRICS) or 'error'
    (ERRORS); ``groups`` 'all' or 'every' (also per gender and stratum). ``resamples`` 0: no
    intervals (``level`` is then not used, see :func:`point_scores`)."""
    rows = []
    for (task, layer), v in variant.groupby(["task", "layer"]):
        b = None if base is None else base[(base["task"] == task) & (base["layer"] == layer)]
        subsets = eval_groups(v, task) if groups == "every" else [("all", pd.Series(True, index=v.index))]
        for name, mask in subsets:
            pv = _per_unit(v[mask], task)
            m, lo, hi = bootstrap_ratio(pv["loss_sum"], pv["n_items"], resamples, seed, level)
            conv = [to_metric(task, x, kind) for x in (m, lo, hi)]
            if conv[1] > conv[2]:
                conv[1], conv[2] = conv[2], conv[1]
            row = {
                "task": task,
                "metric": (METRICS if kind == "display" else ERRORS)[task],
                "layer": int(layer),
                "eval_group": name,
                "value": conv[0],
                "ci_low": conv[1],
                "ci_high": conv[2],
                "n_test_utts": len(pv),
            }
            if b is not None and len(b):
                bmask = _group_mask(b, task, name)
                pb = _per_unit(b[bmask], task)
                common = pv.index.intersection(pb.index)
                pa_, pb_ = pv.loc[common], pb.loc[common]
                d, dlo, dhi = bootstrap_delta(
                    pa_["loss_sum"], pa_["n_items"], pb_["loss_sum"], pb_["n_items"], resamples, seed, level
                )
                sign = -1.0 if (kind == "display" and task in ("sid", "gender")) else 1.0
                scale = 1.0 if task == "f0" else 100.0
                dd = sorted([sign * scale * dlo, sign * scale * dhi])
                pbm = bootstrap_ratio(pb_["loss_sum"], pb_["n_items"], 0, seed, level)[0]
                row.update(
                    baseline=to_metric(task, pbm, kind),
                    delta=sign * scale * d + 0.0,
                    delta_ci_low=dd[0] + 0.0,
                    delta_ci_high=dd[1] + 0.0,
                )
            rows.append(row)
    return pd.DataFrame(rows)


def _group_mask(losses: pd.DataFrame, task: str, name: str) -> pd.Series:
    for n, mask in eval_groups(losses, task):
        if n == name:
            return mask
    return pd.Series(False, index=losses.index)


def point_scores(losses: pd.DataFrame) -> pd.DataFrame:
    """:func:`compare` of ``losses`` alone without intervals: the display metric per (task,
    layer), interval columns empty."""
    return compare(losses, None, resamples=0, seed=0, level=None)
