"""Tables of the SAE study, with percentile bootstrap intervals over held-out utterances.

Every SAE of a layer is evaluated on the same held-out rows, grouped by utterance
(:class:`~speechneurons.saes.evaluation.GroupSums`). A bootstrap resample draws utterances with
replacement; every quantity is recomputed from the resampled sums (FVU = sum sse / sum dev,
mean L0 = sum l0 / sum rows, dead share = share of latents with no firing in the resample),
and differences between SAEs of a layer use the same resamples (paired).

The paper's two claims (Ayonrinde 2024) as they are tested here:

- *dead latents*: the dead share (no firing on held-out frames) of each adaptive architecture
  against TopK at the same layer and k, and whether feature choice has none;
- *reconstruction at equal sparsity*: at every SAE layer (TopK is trained on the whole k sweep
  at each, :meth:`~speechneurons.saes.plan.SaePlan.ks`), each adaptive SAE's FVU (main k; every
  k of the sweep on the sweep layers) minus TopK's FVU at the same mean L0, interpolated
  linearly in log FVU against log L0 between the two TopK budgets that bracket it (no
  extrapolation: outside TopK's range the comparison is left empty); the delta is negative when
  the adaptive rule reconstructs better at equal mean L0.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from speechneurons.stats import percentile_interval, rank_p_value, resample_weights
from speechneurons.study import parse_erasure_name

from .evaluation import SaeEvaluation
from .properties import count_rows

ADAPTIVE = ("mutual_choice", "feature_choice", "feature_choice_zipf")


def _stats(ev: SaeEvaluation, w: np.ndarray) -> dict[str, np.ndarray]:
    """Bootstrap samples of FVU and mean L0 of one SAE for the weights ``w``. The dead share
    gets none: a resample holds a subset of the utterances, so a latent dead in the sample is
    dead in every resample and the resampled share can only be higher (the percentile interval
    would lie above the estimate); it is reported as a count of latents."""
    g = ev.groups
    if g is None:
        raise ValueError(f"{ev.architecture} k={ev.k}: evaluated without groups, no intervals")
    return {"fvu": (w @ g.sse) / (w @ g.dev), "l0_mean": (w @ g.l0) / (w @ g.rows)}


def evaluation_table(
    evaluations: Mapping[tuple[int, str, int], SaeEvaluation], resamples: int, seed: int, level: float
) -> pd.DataFrame:
    """One row per SAE ({(layer, architecture, k): evaluation}): its summary scalars with
    bootstrap intervals of FVU and mean L0, and the count of dead latents."""
    rows = []
    for key in sorted(evaluations):
        ev = evaluations[key]
        row = dict(layer=int(key[0]), **ev.summary(), n_dead=int(round(ev.dead_share * ev.n_latents)))
        if ev.groups is not None and resamples > 0:
            samples = _stats(ev, resample_weights(len(ev.groups.sse), resamples, seed))
            for name, values in samples.items():
                row[f"{name}_ci_low"], row[f"{name}_ci_high"] = percentile_interval(values, level)
        rows.append(row)
    table = pd.DataFrame(rows)
    first = [
        "layer",
        "architecture",
        "k",
        "inference",
        "n_tokens",
        "n_latents",
        "fvu",
        "fvu_ci_low",
        "fvu_ci_high",
        "l0_mean",
        "l0_mean_ci_low",
        "l0_mean_ci_high",
        "dead_share",
        "n_dead",
    ]
    return table[[c for c in first if c in table] + [c for c in table if c not in first]]


def _interp_loglog(l0: np.ndarray, fvu: np.ndarray, at: float) -> float:
    """FVU at mean L0 ``at`` on the curve through (l0, fvu), linear in log-log; NaN outside."""
    order = np.argsort(l0)
    x, y = np.log(l0[order]), np.log(fvu[order])
    if not np.all(np.isfinite(y)) or at <= 0 or not x[0] <= np.log(at) <= x[-1]:
        return float("nan")
    return float(np.exp(np.interp(np.log(at), x, y)))


def claims_table(
    evaluations: Mapping[tuple[int, str, int], SaeEvaluation],
    main_k: int,
    resamples: int,
    seed: int,
    level: float,
) -> pd.DataFrame:
    """The paper's two claims, per layer and adaptive architecture (see the module docstring):
    ``claim`` 'dead_share' (at the main k, against TopK at the same k) and 'fvu_at_equal_l0'
    (every adaptive SAE of every layer where TopK has at least two budgets, against TopK's
    curve); ``value`` (the adaptive SAE's), ``reference`` (TopK's), ``delta`` = value -
    reference with a paired bootstrap interval (none for the dead share, see :func:`_stats`), and
    ``holds``: dead share: the adaptive share is lower (for feature choice the claim is none
    dead, value == 0); FVU: the interval of the delta lies below 0."""
    rows = []
    layers = sorted({layer for layer, _, _ in evaluations})
    for layer in layers:
        here = {(a, k): ev for (lay, a, k), ev in evaluations.items() if lay == layer}
        if ("topk", main_k) not in here:
            continue
        n_groups = len(here["topk", main_k].groups.sse)
        w = resample_weights(n_groups, resamples, seed)
        boot = {key: _stats(ev, w) for key, ev in here.items()}
        topk_ks = sorted(k for a, k in here if a == "topk")
        for arch in ADAPTIVE:
            if (arch, main_k) in here:
                ev, ref = here[arch, main_k], here["topk", main_k]
                lo = hi = float("nan")
                holds = ev.dead_share == 0 if arch.startswith("feature_choice") else ev.dead_share < ref.dead_share
                rows.append(
                    dict(
                        layer=layer,
                        claim="dead_share",
                        architecture=arch,
                        k=main_k,
                        l0_mean=ev.l0_mean,
                        value=ev.dead_share,
                        reference=ref.dead_share,
                        delta=ev.dead_share - ref.dead_share,
                        delta_ci_low=lo,
                        delta_ci_high=hi,
                        holds=bool(holds),
                    )
                )
            if len(topk_ks) < 2:
                continue
            curve_l0 = np.array([here["topk", k].l0_mean for k in topk_ks])
            curve_fvu = np.array([here["topk", k].fvu for k in topk_ks])
            for k in sorted(k for a, k in here if a == arch):
                ev = here[arch, k]
                ref = _interp_loglog(curve_l0, curve_fvu, ev.l0_mean)
                samples = (
                    np.array(
                        [
                            ev_fvu
                            - _interp_loglog(
                                np.array([boot["topk", kk]["l0_mean"][b] for kk in topk_ks]),
                                np.array([boot["topk", kk]["fvu"][b] for kk in topk_ks]),
                                ev_l0,
                            )
                            for b, (ev_fvu, ev_l0) in enumerate(zip(boot[arch, k]["fvu"], boot[arch, k]["l0_mean"]))
                        ]
                    )
                    if np.isfinite(ref)
                    else np.array([np.nan])
                )
                lo, hi = percentile_interval(samples, level)
                rows.append(
                    dict(
                        layer=layer,
                        claim="fvu_at_equal_l0",
                        architecture=arch,
                        k=k,
                        l0_mean=ev.l0_mean,
                        value=ev.fvu,
                        reference=ref,
                        delta=ev.fvu - ref,
                        delta_ci_low=lo,
                        delta_ci_high=hi,
                        holds=bool(np.isfinite(hi) and hi < 0),
                    )
                )
    columns = [
        "layer",
        "claim",
        "architecture",
        "k",
        "l0_mean",
        "value",
        "reference",
        "delta",
        "delta_ci_low",
        "delta_ci_high",
        "holds",
    ]
    return pd.DataFrame(rows, columns=columns)


def add_convergence(claims: pd.DataFrame, logs: Mapping[tuple[int, str], pd.DataFrame]) -> pd.DataFrame:
    """``claims`` with ``fvu_change_last_tenth``: per layer, the largest relative change of the
    held-out FVU over the last tenth of training (:func:`speechneurons.saes.training.fvu_change_last_tenth`)
    among every SAE of the layer (each architecture and k: a claim compares several of them).
    ``logs``: (layer, architecture) -> training log with a ``k`` column."""
    from speechneurons.saes.training import fvu_change_last_tenth

    worst: dict[int, float] = {}
    for (layer, _), log_ in logs.items():
        for _, one in log_.groupby("k"):
            change = fvu_change_last_tenth(one)
            if np.isfinite(change):
                worst[int(layer)] = max(worst.get(int(layer), -np.inf), change)
    return claims.assign(fvu_change_last_tenth=claims["layer"].map(lambda x: worst.get(int(x), np.nan)))


def units_table(
    docs: Mapping[tuple[int, str], Mapping],
    nulls: Mapping[tuple[int, str], pd.DataFrame],
    base_rates: Mapping[tuple[int, str], float],
) -> pd.DataFrame:
    """How many units carry each property, per layer and kind of unit ({(layer, units):
    neurons.json document}, units = 'neurons' or an architecture), each count with its chance
    level from the permutation null ({(layer, units): null table in the properties stage's
    format}): the mean and 95th percentile of the same count over the null's seeds and the
    permutation p-value (1 + #null >= count) / (1 + #null). ``n_exclusive`` counts E_g (group
    rows) or the property units (property rows, ``group`` ''); ``exclusive_share`` =
    n_exclusive / n_group: how exclusively the units that pass sigma carry one group."""
    rows = []
    for (layer, kind), doc in sorted(docs.items()):
        null = nulls.get((layer, kind))
        for r in count_rows(doc):
            row = dict(
                layer=int(layer),
                units=kind,
                n_units=int(doc["D"]),
                tau=int(doc["tau"]),
                threshold=int(doc["tau"]) / int(doc["D"]),
                base_rate=base_rates.get((layer, kind), np.nan),
                **r,
            )
            row["exclusive_share"] = r["n_exclusive"] / r["n_group"] if r["n_group"] else np.nan
            if null is not None and len(null):
                same = null[null.property == r["property"]]
                if r["group"]:
                    values = same[same.group.astype(str) == r["group"]]["n_exclusive"]
                else:
                    values = same.groupby("seed")["n_property_neurons"].first()
                values = values.to_numpy(float)
                if values.size:
                    row.update(
                        chance_mean=float(values.mean()),
                        chance_q95=float(np.quantile(values, 0.95)),
                        p_value=rank_p_value(r["n_exclusive"], values),
                        n_null=int(values.size),
                    )
            rows.append(row)
    return pd.DataFrame(rows)


def features_vs_neurons(
    units: pd.DataFrame, erasure: pd.DataFrame, erasures: list[str], layers: list[int]
) -> pd.DataFrame:
    """The side-by-side of SAE latents and neurons for each erased group (``<property>-<group>``):
    per kind of unit, summed over ``layers`` (the splice layers): the group's exclusive units
    with their chance level (sum of the per-layer permutation means), their share of all
    units, how exclusively they carry the group (n_exclusive / n_group), and what erasing them
    costs on the group's own probe task at each probe layer, against the model and against the
    matched random control (error differences with bootstrap intervals)."""
    rows = []
    for name in erasures:
        prop, group = parse_erasure_name(name)
        sub = units[(units.property == prop) & (units.group.astype(str) == group) & units.layer.isin(layers)]
        for kind, u in sub.groupby("units", sort=False):
            row = dict(
                erasure=name,
                units=kind,
                layers=",".join(map(str, sorted(u.layer))),
                n_units=int(u.n_units.sum()),
                n_group=int(u.n_group.sum()),
                n_exclusive=int(u.n_exclusive.sum()),
                chance_mean=float(u.chance_mean.sum()) if "chance_mean" in u else np.nan,
            )
            row["share_pct"] = 100 * row["n_exclusive"] / row["n_units"]
            row["exclusive_share"] = row["n_exclusive"] / row["n_group"] if row["n_group"] else np.nan
            if len(erasure) and "nothing_erased" in erasure:
                e = erasure[
                    (erasure.erasure == name) & (erasure.units == kind) & erasure.own_task & ~erasure.nothing_erased
                ]
                for _, er in e.iterrows():
                    key = f"{er.task}_L{int(er.layer)}"
                    row[f"{key}_error"] = er.value
                    row[f"{key}_delta"], row[f"{key}_delta_ci"] = er.delta, (er.delta_ci_low, er.delta_ci_high)
                    if "vs_control" in er:
                        row[f"{key}_vs_control"] = er.vs_control
                        row[f"{key}_vs_control_ci"] = (er.vs_control_ci_low, er.vs_control_ci_high)
                for col in ("matched_on", "control_balanced"):  # how the control was matched, and how well
                    if col in e and len(e):
                        row[col] = e[col].iloc[0]
            rows.append(row)
    table = pd.DataFrame(rows)
    for col in [c for c in table if c.endswith("_ci")]:  # intervals as 'low..high' strings in a TSV
        table[col] = [
            f"{a:.4g}..{b:.4g}" if isinstance(v, tuple) else ""
            for v in table[col]
            for a, b in [v if isinstance(v, tuple) else (np.nan, np.nan)]
        ]
    return table


def r_max_table(r_tables: Mapping[tuple[int, str], pd.DataFrame]) -> pd.DataFrame:
    """Per (layer, units) R.parquet table (``property, group, neuron, R``): the largest R_g of
    each unit over the groups of each property: ``layer, units, property, unit, R_max``."""
    parts = []
    for (layer, kind), r in sorted(r_tables.items()):
        m = r.groupby(["property", "neuron"], sort=False)["R"].max().reset_index()
        parts.append(m.rename(columns={"neuron": "unit", "R": "R_max"}).assign(layer=int(layer), units=kind))
    return pd.concat(parts, ignore_index=True)[["layer", "units", "property", "unit", "R_max"]]


def splice_columns(evaluation: pd.DataFrame, splice: pd.DataFrame, masked: pd.DataFrame | None, k: int) -> pd.DataFrame:
    """Add to the rows of SAEs at ``k`` that were spliced into the model: per probe task and probe
    layer role, the error difference to the model with its interval (``splice_<task>_<role>``,
    ``..._ci_low``, ``..._ci_high``), and the masked-prediction accuracy difference
    (``splice_masked_acc``...) when scored."""
    evaluation = evaluation.copy()
    rows = []
    for _, r in splice.iterrows() if len(splice) else []:
        key = f"splice_{r.task}_{r.layer_role}"
        rows.append(
            {
                "layer": int(r.layer_spliced),
                "architecture": r.architecture,
                "k": k,
                key: r.delta,
                f"{key}_ci_low": r.delta_ci_low,
                f"{key}_ci_high": r.delta_ci_high,
            }
        )
    if masked is not None and len(masked):
        for _, r in masked[masked.variant != "model"].iterrows():
            _, arch, _, layer = r.variant.split()
            rows.append(
                {
                    "layer": int(layer),
                    "architecture": arch,
                    "k": k,
                    "splice_masked_acc": r.masked_acc_delta,
                    "splice_masked_acc_ci_low": r.masked_acc_delta_ci_low,
                    "splice_masked_acc_ci_high": r.masked_acc_delta_ci_high,
                }
            )
    if not rows:
        return evaluation
    extra = pd.DataFrame(rows).groupby(["layer", "architecture", "k"], as_index=False).first()
    return evaluation.merge(extra, on=["layer", "architecture", "k"], how="left")


def zipf_claims(evaluations: Mapping[tuple[int, str, int], SaeEvaluation], main_k: int, level: float) -> pd.DataFrame:
    """Rows ``claim == 'zipf'`` of claims.tsv: per layer and architecture at ``main_k``, the
    power law of the alive latents' held-out firing counts above x_min
    (:func:`speechneurons.saes.evaluation.power_law_fit`, Clauset et al. 2009): ``value`` its
    exponent alpha, ``reference`` its KS distance, ``p_value`` the semi-parametric bootstrap
    goodness-of-fit p-value, ``x_min`` and ``n_tail`` (latents in the tail), ``lr_exponential``
    and ``lr_p`` (the likelihood ratio over an exponential tail and Vuong's p-value),
    ``n_alive`` the alive latents, and ``holds``: the law is not rejected (p >= 1 - level) and
    fits significantly better than an exponential (ratio > 0, its p < 1 - level)."""
    rows = []
    for (layer, arch, k), ev in sorted(evaluations.items()):
        if k != main_k:
            continue
        z = ev.zipf
        favoured = bool(np.isfinite(z.lr_p) and z.lr_exponential > 0 and z.lr_p < 1 - level)
        rows.append(
            dict(
                layer=int(layer),
                claim="zipf",
                architecture=arch,
                k=int(k),
                l0_mean=ev.l0_mean,
                value=z.alpha,
                reference=z.ks,
                delta=float("nan"),
                delta_ci_low=float("nan"),
                delta_ci_high=float("nan"),
                holds=bool(np.isfinite(z.p_value) and z.p_value >= 1 - level and favoured),
                p_value=z.p_value,
                n_alive=int(z.n_alive),
                x_min=z.x_min,
                n_tail=int(z.n_tail),
                lr_exponential=z.lr_exponential,
                lr_p=z.lr_p,
            )
        )
    return pd.DataFrame(rows)
