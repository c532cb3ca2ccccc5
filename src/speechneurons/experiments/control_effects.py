"""The effect of pruning or erasing a neuron set read against the distribution of the same
effect for many matched control sets, with a rank p-value.

Retraining every probe for every control draw is unaffordable, so here the probes are FIXED:
each task's probe is fitted once on the unpruned model's training features, and every
variant (the property set erased or protected, the reference, and each control draw) only
changes the forward pass that produces the TEST features. The effect of a variant is then a
change of the fixed probe's test error, and its chance distribution the same change for each
of ``experiments.scored_control_draws`` matched control draws (a budget choice: each draw is
one transformer pass over the test utterances at the probe layers).

Effects, all oriented so that a positive value is the claim:
- pruning (``prune <sparsity>``): norm error minus protect error on all test items (protecting
  the property neurons loses less than norm pruning); the controls protect a matched random set
  instead (protect_random, draws 0..n-1);
- erasure (``erase <property>-<group>``): the error increase on the erased group minus the
  largest increase on another group of the same property (the margin of
  :func:`speechneurons.findings.property_neurons.claim_erasure_hits_own_group`); the controls
  erase matched random sets.

Errors are in percent for the classification tasks and log-F0 MSE for f0.

The effect of the property set itself also gets a paired percentile bootstrap interval
(``effect_ci_low``, ``effect_ci_high``): the variant and its reference are scored on the same
test items, and the resampling unit is the task's (:data:`speechneurons.probing.scoring.
BOOTSTRAP_UNIT`: the utterance, the speaker for gender), as in the retrained probes' tables.
With it the findings read each erasure a second way, as model editing: the downstream probe of
the unedited model kept, the model edited under it (docs/findings.md, claim 6).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechneurons.probing.features import FRAME_TASKS, Features
from speechneurons.probing.probes import ProbeSettings, fit_classifier, sid_items, speaker_folds
from speechneurons.probing.scoring import BOOTSTRAP_UNIT
from speechneurons.stats import percentile_interval, resample_weights
from speechneurons.study import parse_erasure_name

#: the task and the evaluation-group column each erased property is read on (as erasure.ERASURE_VIEW)
ERASURE_READ = {"gender": ("sid", "gender"), "phone_type": ("phone", "phone_type"), "pitch": ("f0", "pitch_bin")}
PRUNING_TASKS = ("phone", "sid")


def _scale(task: str) -> float:
    return 1.0 if task == "f0" else 100.0


@dataclass
class _Probe:
    task: str
    layer: int
    mu: np.ndarray
    sd: np.ndarray
    model: object
    fold_of: dict | None = None  # gender: speaker -> fold; model is then fold -> classifier
    sid_unit: str = "utterance"  # sid: the items it names a speaker for (probes.sid_unit)


def _moments(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return mu, sd


def fit_fixed_probes(train: Features, layers_by_task: Mapping[str, Iterable[int]], settings: ProbeSettings) -> list:
    """Each task's probe at each of its layers, fitted on the train split of ``train`` (the
    unpruned model's features), as :func:`speechneurons.probing.probes.run_probes` fits them
    (gender: one probe per fold of whole speakers, trained on the other folds' speakers)."""
    from sklearn.linear_model import Ridge

    fr, ut = train.frames, train.utts
    probes = []
    for task, layers in layers_by_task.items():
        if task not in settings.tasks:
            continue
        for layer in sorted({int(x) for x in layers}):
            if task in FRAME_TASKS:
                tr = fr[f"use_{task}"].to_numpy(bool) & (fr["split"] == "train").to_numpy()
                if tr.sum() < 2:
                    continue
                x = train.frame_feats[layer][tr].astype(np.float64)
                mu, sd = _moments(x)
                if task == "phone":
                    model = fit_classifier((x - mu) / sd, fr["phone"].to_numpy()[tr], settings)
                else:
                    y = np.log(np.clip(fr["f0_hz"].fillna(1.0).to_numpy(np.float64)[tr], 1e-9, None))
                    model = Ridge(alpha=settings.ridge_alpha).fit((x - mu) / sd, y)
                probes.append(_Probe(task, layer, mu, sd, model))
            elif task == "sid":
                _, x, y, tr, _ = sid_items(train, layer, settings.sid_unit)
                x = x[tr].astype(np.float64)
                mu, sd = _moments(x)
                model = fit_classifier((x - mu) / sd, y[tr], settings)
                probes.append(_Probe(task, layer, mu, sd, model, sid_unit=settings.sid_unit))
            elif task == "gender":
                folds = speaker_folds(ut, settings.gender_folds, settings.seed)
                fold_of = dict(zip(ut["speaker"], folds, strict=True))
                tr_all = (ut["split"] == "train").to_numpy()
                x_all = train.utt_feats[layer].astype(np.float64)
                y = ut["gender"].astype(str).to_numpy()
                mu, sd = _moments(x_all[tr_all])
                models = {}
                for k in np.unique(folds):
                    tr = tr_all & (folds != k)
                    if len(np.unique(y[tr])) == 2:
                        models[int(k)] = fit_classifier((x_all[tr] - mu) / sd, y[tr], settings)
                probes.append(_Probe(task, layer, mu, sd, models, fold_of))
    return probes


def _losses(probe: _Probe, feats: Features) -> tuple[np.ndarray, pd.DataFrame]:
    """Per test item of ``feats``: the fixed probe's loss and the item's labels."""
    fr, ut = feats.frames, feats.utts
    if probe.task in FRAME_TASKS:
        te = fr[f"use_{probe.task}"].to_numpy(bool) & (fr["split"] == "test").to_numpy()
        x = (feats.frame_feats[probe.layer][te].astype(np.float64) - probe.mu) / probe.sd
        rows = fr[te]
        if probe.task == "phone":
            return (probe.model.predict(x) != rows["phone"].to_numpy()).astype(float), rows
        y = np.log(np.clip(rows["f0_hz"].fillna(1.0).to_numpy(np.float64), 1e-9, None))
        return (probe.model.predict(x) - y) ** 2, rows
    if probe.task == "sid":
        # ``feats`` may hold test items only (the variants' passes): the speakers seen are the probe's
        items, x, y, _, keep = sid_items(feats, probe.layer, probe.sid_unit, seen=probe.model.classes_)
        pred = probe.model.predict((x[keep].astype(np.float64) - probe.mu) / probe.sd) if keep.any() else np.zeros(0)
        return (pred != y[keep]).astype(float), items[keep]
    te = (ut["split"] == "test").to_numpy()
    rows = ut[te]
    x = (feats.utt_feats[probe.layer][te].astype(np.float64) - probe.mu) / probe.sd
    folds = rows["speaker"].map(probe.fold_of).to_numpy()
    keep = np.isin(folds, list(probe.model))
    loss = np.zeros(int(keep.sum()))
    idx = np.flatnonzero(keep)
    for k, model in probe.model.items():
        sel = folds[idx] == k
        if sel.any():
            loss[sel] = (model.predict(x[idx[sel]]) != rows["gender"].astype(str).to_numpy()[idx[sel]]).astype(float)
    return loss, rows.iloc[idx]


GROUP_COLUMN = {"phone": "phone_type", "f0": "pitch_bin", "sid": "gender", "gender": "gender"}


@dataclass
class UnitLosses:
    """A fixed probe's test losses on one variant, summed per resampling unit (rows, the task's
    :data:`BOOTSTRAP_UNIT`) and evaluation group (columns, the values of :data:`GROUP_COLUMN`)."""

    sums: pd.DataFrame
    counts: pd.DataFrame


def unit_losses(loss: np.ndarray, items: pd.DataFrame, task: str) -> UnitLosses:
    """Per-item losses of ``task`` -> :class:`UnitLosses`."""
    df = pd.DataFrame({"unit": items[BOOTSTRAP_UNIT.get(task, "utt_id")].astype(str).to_numpy(),
                       "group": items[GROUP_COLUMN[task]].astype(str).to_numpy(),
                       "loss": np.asarray(loss, dtype=np.float64)})  # fmt: skip
    grouped = df.groupby(["unit", "group"])["loss"]
    sums = grouped.sum().unstack(fill_value=0.0)
    counts = grouped.size().unstack(fill_value=0).astype(np.float64)
    return UnitLosses(sums, counts)


def fixed_probe_losses(probes: Sequence, variants: Mapping[str, Features]) -> dict[tuple[str, str, int], UnitLosses]:
    """The fixed probes' test losses of every variant, per (variant, task, layer)."""
    out = {}
    for name, feats in variants.items():
        for probe in probes:
            loss, items = _losses(probe, feats)
            out[(name, probe.task, probe.layer)] = unit_losses(loss, items, probe.task)
    return out


def errors_from_losses(losses: Mapping[tuple[str, str, int], UnitLosses]) -> pd.DataFrame:
    """``variant, task, layer, eval_group, error, n_items`` with eval_group ``all`` and
    ``<column>=<value>`` (phone: phone_type, f0: pitch_bin, sid and gender: gender); error in
    percent (f0: log-F0 MSE)."""
    rows = []
    for (name, task, layer), ul in losses.items():
        col = GROUP_COLUMN[task]
        sums, counts = ul.sums.sum(axis=0), ul.counts.sum(axis=0)
        groups = [("all", float(sums.sum()), float(counts.sum()))]
        groups += [(f"{col}={g}", float(sums[g]), float(counts[g])) for g in sorted(sums.index)]
        for group, total, n in groups:
            if n > 0:
                rows.append({"variant": name, "task": task, "layer": layer, "eval_group": group,
                             "error": _scale(task) * total / n, "n_items": int(n)})  # fmt: skip
    return pd.DataFrame(rows, columns=["variant", "task", "layer", "eval_group", "error", "n_items"])


def fixed_probe_errors(probes: Sequence, variants: Mapping[str, Features]) -> pd.DataFrame:
    """The fixed probes' test error of every variant (:func:`errors_from_losses`)."""
    return errors_from_losses(fixed_probe_losses(probes, variants))


def effect_interval(
    kind: str,
    variant: UnitLosses,
    reference: UnitLosses,
    task: str,
    own: str | None,
    resamples: int,
    seed: int,
    level: float,
) -> tuple[float, float]:
    """Paired percentile bootstrap interval of one effect (:func:`pruning_effect` for kind
    'pruning', :func:`erasure_margin` of group ``own`` (a value of the task's group column) for
    'erasure'): the units both variants scored are drawn with replacement ``resamples`` times,
    the same draws for both, and the effect is recomputed on each draw; (nan, nan) without
    resamples or units."""
    units = variant.sums.index.intersection(reference.sums.index)
    groups = sorted(set(variant.sums.columns) & set(reference.sums.columns))
    if resamples <= 0 or not len(units) or not groups:
        return float("nan"), float("nan")
    w = resample_weights(len(units), resamples, seed)  # [resamples, units]

    def errors(ul: UnitLosses) -> tuple[np.ndarray, np.ndarray]:
        s, n = w @ ul.sums.loc[units, groups].to_numpy(), w @ ul.counts.loc[units, groups].to_numpy()
        with np.errstate(invalid="ignore", divide="ignore"):
            return s / n, s.sum(axis=1) / n.sum(axis=1)

    (gv, av), (gr, ar) = errors(variant), errors(reference)
    if kind == "pruning":
        boot = ar - av
    else:
        if own not in groups or len(groups) < 2:
            return float("nan"), float("nan")
        change = gv - gr
        i = groups.index(own)
        others = np.delete(change, i, axis=1)
        worst = np.where(np.isfinite(others), others, -np.inf).max(axis=1)
        boot = np.where(np.isfinite(worst), change[:, i] - worst, np.nan)
    return percentile_interval(_scale(task) * boot, level)


def _error(errors: pd.DataFrame, variant: str, task: str, layer: int) -> pd.Series:
    e = errors[(errors["variant"] == variant) & (errors["task"] == task) & (errors["layer"] == layer)]
    return e.set_index("eval_group")["error"]


def pruning_effect(errors: pd.DataFrame, variant: str, reference: str, task: str, layer: int) -> float:
    """Reference (norm) error minus the variant's error on all test items: > 0 when the variant
    loses less."""
    a, b = _error(errors, variant, task, layer), _error(errors, reference, task, layer)
    return float(b.get("all", np.nan) - a.get("all", np.nan))


def erasure_margin(errors: pd.DataFrame, variant: str, reference: str, task: str, layer: int, own: str) -> float:
    """The error increase on group ``own`` (e.g. ``gender=M``) minus the largest increase on
    another group of the same column (NaN when either is missing)."""
    change = _error(errors, variant, task, layer) - _error(errors, reference, task, layer)
    col = own.split("=", 1)[0]
    others = change[[g for g in change.index if g.startswith(col + "=") and g != own]].dropna()
    if own not in change or not len(others) or np.isnan(change[own]):
        return float("nan")
    return float(change[own] - others.max())


def control_distribution(effect: float, controls: Sequence[float], level: float) -> dict:
    """The effect against its control effects: ``effect``, ``n_controls``, the central
    ``level`` range of the controls (``control_low``, ``control_high``) and the rank p-value in
    the claimed (positive) direction (:func:`speechneurons.stats.controls.control_p`),
    and in the opposite direction (``control_p_below``)."""
    from speechneurons.stats.controls import control_p

    x = np.asarray(controls, dtype=float)
    x = x[np.isfinite(x)]
    lo, hi = percentile_interval(x, level) if len(x) else (np.nan, np.nan)
    return {"effect": float(effect), "n_controls": int(len(x)), "control_low": float(lo), "control_high": float(hi),
            "control_p": control_p(effect, x, direction=1),
            "control_p_below": control_p(effect, x, direction=-1)}  # fmt: skip


def control_effects_table(
    errors: pd.DataFrame,
    comparisons: Sequence[Mapping],
    layers_by_task: Mapping[str, Iterable[int]],
    level: float,
    unscored: Mapping[str, str] | None = None,
    losses: Mapping[tuple[str, str, int], UnitLosses] | None = None,
    resamples: int = 0,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per comparison, task and probe layer: the effect, its paired bootstrap interval
    (:func:`effect_interval`, from ``losses`` of :func:`fixed_probe_losses` with ``resamples``;
    nan without them), its control distribution and rank p-value (:func:`control_distribution`).
    A comparison is a mapping with ``name``, ``kind`` ('pruning' or 'erasure'), ``variant``,
    ``reference``, ``controls`` (variant names) and, for an erasure, ``property`` and ``group``;
    an optional ``matched_on`` (the rate the control draws were matched on) and
    ``control_balanced`` (the share of draws within the balance criterion,
    :func:`speechneurons.stats.controls.share_balanced`) are copied to the rows.
    ``unscored``: erasure name -> why it was not scored; each gets a row per probe layer of its
    task with no effect, ``n_controls`` 0 and the reason in ``not_scored`` (empty for the scored
    rows)."""
    rows = []
    for c in comparisons:
        own = None
        if c["kind"] == "pruning":
            tasks = [t for t in PRUNING_TASKS if t in layers_by_task]

            def effect(v, task, layer, c=c):
                return pruning_effect(errors, v, c["reference"], task, layer)
        else:
            task0, col = ERASURE_READ[c["property"]]
            tasks = [task0] if task0 in layers_by_task else []
            own = str(c["group"])

            def effect(v, task, layer, c=c, col=col):
                return erasure_margin(errors, v, c["reference"], task, layer, f"{col}={c['group']}")

        for task in tasks:
            for layer in sorted({int(x) for x in layers_by_task[task]}):
                d = control_distribution(effect(c["variant"], task, layer),
                                         [effect(v, task, layer) for v in c["controls"]], level)  # fmt: skip
                pair = [(losses or {}).get((v, task, layer)) for v in (c["variant"], c["reference"])]
                lo, hi = (float("nan"), float("nan"))
                if None not in pair:
                    lo, hi = effect_interval(c["kind"], *pair, task, own, resamples, seed, level)
                rows.append({"comparison": c["name"], "kind": c["kind"], "task": task, "layer": layer,
                             "effect": d.pop("effect"), "effect_ci_low": lo, "effect_ci_high": hi, **d,
                             "matched_on": c.get("matched_on", ""),
                             "control_balanced": c.get("control_balanced", float("nan"))})  # fmt: skip
    for name, why in (unscored or {}).items():
        task = ERASURE_READ[parse_erasure_name(name)[0]][0]
        for layer in sorted({int(x) for x in layers_by_task.get(task, [])}):
            rows.append({"comparison": f"erase {name}", "kind": "erasure", "task": task, "layer": layer,
                         "effect": float("nan"), "n_controls": 0, "not_scored": why})  # fmt: skip
    cols = ["comparison", "kind", "task", "layer", "effect", "effect_ci_low", "effect_ci_high", "n_controls",
            "control_low", "control_high", "control_p", "control_p_below", "matched_on", "control_balanced",
            "not_scored"]  # fmt: skip
    table = pd.DataFrame(rows, columns=cols)
    return table.assign(
        not_scored=table["not_scored"].astype(object).fillna(""),
        matched_on=table["matched_on"].astype(object).fillna(""),
    )


def plan_variants(
    pairs: Mapping,
    protected: Mapping[int, Sequence[int]],
    protect_draws: Sequence[Mapping[int, Sequence[int]]],
    sparsities: Sequence[float],
    erasures: Mapping[str, tuple[Mapping[int, Sequence[int]], Sequence[Mapping[int, Sequence[int]]]]],
    seed: int,
) -> tuple[dict[str, dict[int, list[int]]], list[dict]]:
    """The silenced neurons of every variant scored (name -> layer -> neurons) and the
    comparisons of :func:`control_effects_table`. ``pairs``: layer -> (fc1, fc2) of the model
    (:func:`speechneurons.experiments.pruning.ffn_pairs`); ``protect_draws``: matched controls
    of ``protected``, each protected instead in a protect pruning at each of ``sparsities``
    (empty: no pruning comparison); ``erasures``: name -> (the group's neurons, its matched
    control draws). Silencing is pruning here (the models are not pretrained further)."""
    from speechneurons.experiments.pruning import plan_pruning

    def pruned(strategy, s, keep):
        return {c.layer: [int(j) for j in c.pruned] for c in plan_pruning(pairs, strategy, s, keep, seed).values()}

    masks = {"unpruned": {}}
    comparisons = []
    for s in sparsities if len(protect_draws) else ():
        name = f"prune {s:g}"
        masks[f"{name} norm"] = pruned("norm", s, protected)
        masks[f"{name} protect"] = pruned("protect", s, protected)
        controls = []
        for i, draw in enumerate(protect_draws):
            masks[f"{name} protect_random {i}"] = pruned("protect", s, draw)
            controls.append(f"{name} protect_random {i}")
        comparisons.append({"name": name, "kind": "pruning", "variant": f"{name} protect",
                            "reference": f"{name} norm", "controls": controls})  # fmt: skip
    for er, (sets, draws) in erasures.items():
        prop, group = er.split("-", 1)
        name = f"erase {er}"
        masks[name] = {int(k): [int(j) for j in v] for k, v in sets.items()}
        controls = []
        for i, draw in enumerate(draws):
            masks[f"{name} random {i}"] = {int(k): [int(j) for j in v] for k, v in draw.items()}
            controls.append(f"{name} random {i}")
        comparisons.append({"name": name, "kind": "erasure", "variant": name, "reference": "unpruned",
                            "controls": controls, "property": prop, "group": group})  # fmt: skip
    return masks, comparisons
