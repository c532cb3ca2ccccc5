"""Tables of the layer-wise analysis: the per-checkpoint measures gathered by pretraining step,
what they show (peak phone layer, does the top layer's log-Mel PWCCA rise again), the
property-neuron counts by checkpoint, and the comparison of pretraining runs at equal steps.

Autoencoder behaviour is read from the PWCCA curve of a reference view v (``mel`` or
``frontend``) over layers 0..L: with l_min the layer below the top with the lowest PWCCA, the
*rise* is PWCCA_v(L) - PWCCA_v(l_min) and the *drop* PWCCA_v(0) - PWCCA_v(l_min). All come
from the same trials (the same parts), so they are computed per trial (paired) and the rise is
reported as its mean with the smallest and largest trial value. ``rises`` is true when every
trial's rise is positive (the top layer is above the lowest layer below it);
``rises_again`` when, besides, l_min is an inner layer (0 < l_min < L) and every trial's drop
is positive: the curve falls from the input and rises again at the top, the autoencoder
pattern. A curve that only grows with depth ``rises`` but does not rise again. Three trials
are a small sample: the flags say that the trials agree, not that an effect is significant.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.trajectories.runs import checkpoint_order

FINDING_COLUMNS = [
    "checkpoint",
    "iteration",
    "step",
    "peak_phone_layer",
    "peak_phone_pwcca",
    "peak_phone_std",
    "top_phone_pwcca",
    "peak_word_layer",
    "peak_word_pwcca",
]
RISE_COLUMNS = ["top_layer", "min_layer", "top", "min", "rise", "rise_low", "rise_high", "rises", "rises_again"]


def add_steps(table: pd.DataFrame, steps: Mapping[str, Sequence[int]]) -> pd.DataFrame:
    """``table`` with ``iteration`` and ``step`` columns after ``checkpoint`` from
    checkpoint -> (iteration, global step) (missing, e.g. a Hugging Face model's final: NaN)."""
    out = table.copy()
    pos = out.columns.get_loc("checkpoint") + 1
    its = [steps.get(c, (np.nan, np.nan))[0] for c in out["checkpoint"].astype(str)]
    stp = [steps.get(c, (np.nan, np.nan))[1] for c in out["checkpoint"].astype(str)]
    out.insert(pos, "iteration", pd.array(its, dtype="Int64"))
    out.insert(pos + 1, "step", pd.array(stp, dtype="Int64"))
    return out


def sort_by_checkpoint(table: pd.DataFrame, *keys: str) -> pd.DataFrame:
    """Rows in pretraining order of their checkpoint, then by ``keys``."""
    order = {c: i for i, c in enumerate(checkpoint_order(table["checkpoint"].astype(str).tolist()))}
    rank = table["checkpoint"].astype(str).map(order)
    return (
        table.assign(_rank=rank)
        .sort_values(["_rank", *keys], kind="stable")
        .drop(columns="_rank")
        .reset_index(drop=True)
    )


def rise(pwcca: pd.DataFrame, trials: pd.DataFrame, view: str) -> pd.DataFrame:
    """Per checkpoint, the rise of ``view``'s PWCCA at the top layer over its minimum below
    the top, and whether it rises again after falling (module docstring): ``checkpoint`` and
    :data:`RISE_COLUMNS`."""
    rows = []
    for ckpt, g in pwcca[pwcca["view"] == view].groupby("checkpoint", sort=False):
        g = g.sort_values("layer")
        if len(g) < 2:
            continue
        top = int(g["layer"].iloc[-1])
        below = g[g["layer"] < top]
        low = int(below.loc[below["pwcca"].idxmin(), "layer"])
        t = trials[(trials["checkpoint"] == ckpt) & (trials["view"] == view)]
        by_layer = {l: t[t["layer"] == l].set_index("trial")["test_pwcca"] for l in (top, low, int(g["layer"].iloc[0]))}
        diff = (by_layer[top] - by_layer[low].reindex(by_layer[top].index)).to_numpy(float)
        drop = (by_layer[int(g["layer"].iloc[0])] - by_layer[low].reindex(by_layer[top].index)).to_numpy(float)
        keep = np.isfinite(diff) & np.isfinite(drop)
        diff, drop = diff[keep], drop[keep]
        rises = bool(len(diff) and (diff > 0).all())
        rows.append(
            {
                "checkpoint": ckpt,
                "top_layer": top,
                "min_layer": low,
                "top": float(g["pwcca"].iloc[-1]),
                "min": float(below["pwcca"].min()),
                "rise": float(diff.mean()) if len(diff) else np.nan,
                "rise_low": float(diff.min()) if len(diff) else np.nan,
                "rise_high": float(diff.max()) if len(diff) else np.nan,
                "rises": rises,
                "rises_again": rises and int(g["layer"].iloc[0]) < low < top and bool((drop > 0).all()),
            }
        )
    return pd.DataFrame(rows, columns=["checkpoint", *RISE_COLUMNS])


def findings(
    pwcca: pd.DataFrame, trials: pd.DataFrame, rise_views: Sequence[str] = ("mel", "frontend")
) -> pd.DataFrame:
    """One row per checkpoint: the layer of peak phone (and word) PWCCA with its value and
    spread, the top layer's phone PWCCA, and for each view of ``rise_views`` the
    :func:`rise` columns prefixed with the view (``mel_rise``, ``mel_rises``, ...)."""
    rows = []
    for ckpt, g in pwcca.groupby("checkpoint", sort=False):
        row = {"checkpoint": ckpt, "iteration": g["iteration"].iloc[0], "step": g["step"].iloc[0]}
        for view in ("phone", "word"):
            v = g[g["view"] == view].sort_values("layer")
            if v.empty:
                row |= {f"peak_{view}_layer": pd.NA, f"peak_{view}_pwcca": np.nan}
                continue
            best = v.loc[v["pwcca"].idxmax()]
            row |= {f"peak_{view}_layer": int(best["layer"]), f"peak_{view}_pwcca": float(best["pwcca"])}
            if view == "phone":
                row |= {"peak_phone_std": float(best["pwcca_std"]), "top_phone_pwcca": float(v["pwcca"].iloc[-1])}
        rows.append(row)
    out = pd.DataFrame(rows).reindex(columns=FINDING_COLUMNS)
    for view in rise_views:
        r = rise(pwcca, trials, view)
        if r.empty:
            continue
        out = out.merge(r.rename(columns={c: f"{view}_{c}" for c in RISE_COLUMNS}), on="checkpoint", how="left")
    return sort_by_checkpoint(out)


COUNT_COLUMNS = ["n_phone_type", "n_gender", "n_pitch"]


def gather_counts(summaries: Mapping[str, pd.DataFrame], steps: Mapping[str, Sequence[int]]) -> pd.DataFrame:
    """Property-neuron counts per (checkpoint, layer) from each checkpoint's properties
    ``summary.tsv``: ``checkpoint, iteration, step, layer, D, n_phone_type, n_gender, n_pitch``
    and the per-group counts (``group_*``, ``exclusive_*``)."""
    parts = []
    for ckpt, table in summaries.items():
        keep = ["layer", "D", *COUNT_COLUMNS] + [c for c in table.columns if c.startswith(("group_", "exclusive_"))]
        parts.append(table[keep].assign(checkpoint=ckpt))
    if not parts:
        return pd.DataFrame(columns=["checkpoint", "iteration", "step", "layer", "D", *COUNT_COLUMNS])
    out = pd.concat(parts, ignore_index=True)
    out = out[["checkpoint", *[c for c in out.columns if c != "checkpoint"]]]
    return sort_by_checkpoint(add_steps(out, steps), "layer")


# --------------------------------------------------------------------------- factor study

RUN_COLUMNS = [
    "run",
    "factor",
    "schedule",
    "total_steps",
    "final_step",
    "heldout_masked_acc",
    "heldout_chance",
    "peak_phone_layer",
    "peak_phone_pwcca",
    "top_phone_pwcca",
    "mel_rise",
    "mel_rise_low",
    "mel_rise_high",
    "mel_rises",
    "mel_rises_again",
    "best_probe_phone_error",
    "per_n0",
    "best_n",
    "best_delta_vs_0",
    "best_delta_low",
    "best_delta_high",
]


def compare_runs(
    runs: Sequence[Mapping],
    findings_by_run: Mapping[str, pd.DataFrame],
    probes_by_run: Mapping[str, pd.DataFrame],
    reset_by_run: Mapping[str, pd.DataFrame],
    heldout_by_run: Mapping[str, pd.DataFrame],
) -> pd.DataFrame:
    """One row per run at its final checkpoint: its factor, schedule and steps; held-out
    masked-prediction accuracy with its chance level (comparable only between runs with the
    same targets); the peak phone PWCCA layer; the top layer's log-Mel rise; the best layer's
    phone probe error; the reset-top PER at n = 0 and the n > 0 with the lowest PER with its
    paired difference to n = 0 (negative = resetting helps). ``runs``: dicts with ``run``,
    ``factor``, ``schedule``, ``total_steps``."""
    rows = []
    for r in runs:
        name = r["run"]
        row = {k: r[k] for k in ("run", "factor", "schedule", "total_steps")}
        f = findings_by_run[name]
        final = f[f["checkpoint"] == "final"]
        if len(final):
            fr = final.iloc[0]
            row |= {"final_step": fr["step"], "peak_phone_layer": fr["peak_phone_layer"],
                    "peak_phone_pwcca": fr["peak_phone_pwcca"], "top_phone_pwcca": fr["top_phone_pwcca"]}  # fmt: skip
            for c in ("rise", "rise_low", "rise_high", "rises", "rises_again"):
                row[f"mel_{c}"] = fr.get(f"mel_{c}", np.nan)
        h = heldout_by_run.get(name)
        if h is not None and len(h[h["checkpoint"] == "final"]):
            hr = h[h["checkpoint"] == "final"].iloc[0]
            row |= {"heldout_masked_acc": hr["masked_acc"], "heldout_chance": hr["chance"]}
        p = probes_by_run.get(name)
        if p is not None:
            p = p[(p["checkpoint"] == "final") & (p["task"] == "phone")]
            if len(p):
                row["best_probe_phone_error"] = float(p["value"].min())
        s = reset_by_run.get(name)
        if s is not None and len(s):
            s = s.set_index("n_reset")
            if 0 in s.index:
                row["per_n0"] = float(s.loc[0, "per"])
            others = s[s.index > 0]
            if len(others):
                best = others["per"].idxmin()
                row |= {"best_n": int(best), "best_delta_vs_0": float(others.loc[best, "delta_vs_0"]),
                        "best_delta_low": float(others.loc[best, "delta_low"]),
                        "best_delta_high": float(others.loc[best, "delta_high"])}  # fmt: skip
        rows.append(row)
    return pd.DataFrame(rows).reindex(columns=RUN_COLUMNS)


def at_steps(tables: Mapping[str, pd.DataFrame], steps: Sequence[int]) -> pd.DataFrame:
    """The rows of each run's table (with a ``step`` column) at the given global steps, with a
    ``run`` column first; at a step saved both as ``step-<N>`` and ``final``, ``final`` is kept."""
    parts = []
    for run, t in tables.items():
        t = t[t["step"].isin(list(steps))]
        dup = t.groupby("step")["checkpoint"].transform(lambda c: (c == "final").any())
        t = t[~dup | (t["checkpoint"] == "final")]
        parts.append(t.assign(run=run))
    if not parts:
        return pd.DataFrame()
    out = pd.concat(parts, ignore_index=True)
    return out[["run", *[c for c in out.columns if c != "run"]]]


MEASURE_COLUMNS = ["checkpoint", "iteration", "step", "measure", "key", "layer", "value", "std", "ci_low", "ci_high"]


def long_measures(pwcca: pd.DataFrame, probes: pd.DataFrame) -> pd.DataFrame:
    """PWCCA and probe errors of one model in one long table: ``measure`` ('pwcca' or 'probe'),
    ``key`` (the view or the task), ``value`` with ``std`` (PWCCA, over trials) or
    ``ci_low``..``ci_high`` (probes, bootstrap)."""
    a = pwcca.assign(measure="pwcca", key=pwcca["view"], value=pwcca["pwcca"], std=pwcca["pwcca_std"])
    b = probes.assign(measure="probe", key=probes["task"])
    return pd.concat([a.reindex(columns=MEASURE_COLUMNS), b.reindex(columns=MEASURE_COLUMNS)], ignore_index=True)
