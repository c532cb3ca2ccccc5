"""The claims of network dissection (AND, Wu et al. 2024) checked on one run's dissection tables
(``dissection/<model>/<checkpoint>/``). AND's numbers describe another model (AST, on audio
clip captions) and are not in this project: its statements are quoted in words.

1. A neuron's top items share a concept more often than chance (one row per item kind). Per
   dissected layer, effect = the uninterpretable share under permuted item attributes (the
   null's mean, ``chance_share``) minus the observed share, in points; its chance range is the
   same difference for the null's 2.5-97.5 % range (``chance_lo``, ``chance_hi``). The observed
   share counts every neuron of the layer, so it has no interval of its own: each layer is read
   with ``verdict_above_chance`` (holds when the observed share lies below the null's range).
   The row shows the layer nearest to chance: *holds* when every layer holds, *does not hold*
   when a layer has more uninterpretable neurons than its null's range (that layer shown),
   *not measurable here* otherwise; every layer's effect is listed in ``why``.
2. The descriptions agree with the property-neuron groups on held-out items above shuffled
   labels (one row per property: phone type, gender, pitch). A neuron in exactly one group of
   the property expects that group's concept; ``within`` is the share whose best concept among
   the property's own is the expected one, on the held-out items (``split = held_out`` of
   ``agreement.tsv``; gender on utterance items, phone type and pitch on phone items). Effect:
   observed minus the null's mean (concept rows shuffled across items), pooled over layers
   with the labelled neurons as weights, in points; chance range: the layers' null ranges
   around their means pooled with the same weights (exact when the layers' nulls move together,
   wider otherwise). Verdict: ``verdict_above_chance``. This is the project's own check against
   the property neurons of Lin et al., not a claim of AND.
3. Pruning a concept's tagged neurons hurts that concept more than the rest, beyond a matched
   random control (one row per family: phone type, gender, pitch). Effect: dA - dR of pruning
   the tagged neurons minus dA - dR of the activation-rate-matched random control (by default
   matched on the rate on the concept's own frames, ``matched_on``), averaged over
   the family's pruned concepts (``pruning.tsv``, arm ``difference``, concept ``mean of
   pruned``), in the probe's logit units, with its paired bootstrap interval over test
   utterances. The control is built into the effect; no separate chance range. Verdict:
   ``verdict_positive``; a *holds* also needs the tagged pruning's own dA - dR interval above 0.

The random-weights control (``dissection.random_weights_control``): the same dissection run on
the same architecture with freshly initialised weights (checkpoint ``random``, the property
study's control network, the same items and rules). Claims 1 and 2 give its numbers beside the
trained ones in ``why`` (per layer: the uninterpretable share and its chance share; pooled: the
agreement and its shuffled-label level) and the trained-minus-random difference of the effect:
what a network of this shape gives before it learns anything. The verdict reads the trained
network against its own null as before; the control says how much of the effect is learned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from speechneurons.findings.claims import (
    FAILS,
    HOLDS,
    UNMEASURED,
    Finding,
    fmt,
    no_numbers,
    verdict_above_chance,
    verdict_positive,
)
from speechneurons.findings.verdict import balance_words, matched_words

STUDY = "Wu et al. 2024 (network dissection, AND)"
KINDS = ("phone", "utterance")
PROPERTIES = ("phone_type", "gender", "pitch")
NAMES = {"phone_type": "phone type", "gender": "gender", "pitch": "pitch"}
#: the item kind that carries each property (as dissection.pruning.FAMILY_KIND; phone items when
#: the dissection has no utterance items)
PROPERTY_KIND = {"phone_type": "phone", "gender": "utterance", "pitch": "phone"}
PAPER_SHARED = (
    "AND: a neuron is described by what its most activating clips share and its least activating ones lack; "
    "a neuron whose top clips share nothing is set aside as uninterpretable; stated in words, AND's numbers are "
    "on another model"
)
PAPER_AGREEMENT = (
    "not a claim of AND: this project's check of the descriptions against the property neurons of Lin et al. 2024"
)
PAPER_PRUNING = (
    "AND, section 4.3: pruning the neurons tagged with a concept lowers that concept's logits more than the other "
    "concepts' (dA > dR); stated in words, AND's numbers are logits of another model"
)


def _kind_of(prop: str, kinds: Sequence[str]) -> str:
    kind = PROPERTY_KIND[prop]
    return kind if kind in kinds else "phone"


def _layers(layers: Sequence[int]) -> str:
    layers = sorted(int(x) for x in layers)
    return f"layer {layers[0]}" if len(layers) == 1 else f"layers {layers[0]}-{layers[-1]}"


def _shared_effect(summary: pd.DataFrame | None, kind: str) -> pd.DataFrame:
    """Rows of ``kind`` of a summary.tsv with a null, sorted by layer, with the effect
    (chance share minus observed share, points); empty when there are none."""
    if summary is None or "kind" not in summary:
        return pd.DataFrame()
    rows = summary[(summary["kind"] == kind) & (summary["n_permutations"] > 0)].dropna(subset=["chance_share"])
    return rows.sort_values("layer").assign(effect=lambda r: 100 * (r["chance_share"] - r["uninterpretable_share"]))


def random_shared(random_summary: pd.DataFrame | None, kind: str, trained: pd.DataFrame | None = None) -> str:
    """The random-weights control of claim 1 in words: per layer the random network's
    uninterpretable share against its own chance share, and the trained effect minus the
    random one (points) where ``trained`` (summary.tsv) has the layer; "" without a control."""
    rows = _shared_effect(random_summary, kind)
    if rows.empty:
        return ""
    mine = _shared_effect(trained, kind)
    mine = mine.set_index("layer")["effect"] if len(mine) else pd.Series(dtype=float)
    parts = []
    for r in rows.itertuples(index=False):
        text = f"layer {int(r.layer)}: {100 * r.uninterpretable_share:.1f} % against {100 * r.chance_share:.1f} %"
        if int(r.layer) in mine.index:
            text += f", trained minus random {fmt(mine[int(r.layer)] - r.effect, 1)} points"
        parts.append(text)
    return "; random weights (same dissection, untrained network): " + "; ".join(parts)


def claim_shared_concepts(
    summary: pd.DataFrame | None, kind: str, random_summary: pd.DataFrame | None = None
) -> Finding:
    """Claim 1 for one item kind (module docstring); ``summary``: summary.tsv; ``random_summary``:
    the random-weights network's summary.tsv (None: no control)."""
    common = dict(study=STUDY, claim=f"A neuron's top items share a concept more often than chance ({kind} items)",
                  paper=PAPER_SHARED,
                  measure="uninterpretable share with item attributes permuted minus the observed share, at the "
                          "layer nearest chance (points)",
                  source="dissection/<model>/<checkpoint>/summary.tsv")  # fmt: skip
    rows = summary[summary["kind"] == kind] if summary is not None and "kind" in summary else pd.DataFrame()
    if rows.empty:
        return Finding(
            **common, **no_numbers(verdict=UNMEASURED, why=f"no {kind} items were dissected (dissection.items)")
        )
    rows = rows.sort_values("layer")
    if (rows["n_permutations"] == 0).all() or rows["chance_share"].isna().all():
        why = "no permutation null (dissection.n_permutations is 0)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    effect = 100 * (rows["chance_share"] - rows["uninterpretable_share"])
    c_lo = 100 * (rows["chance_share"] - rows["chance_hi"])
    c_hi = 100 * (rows["chance_share"] - rows["chance_lo"])
    verdicts = [verdict_above_chance(*x)[0] for x in zip(effect, c_lo, c_hi)]
    if FAILS in verdicts:
        at = (effect - c_lo).where(pd.Series(verdicts, index=rows.index) == FAILS).idxmin()
    else:
        at = (effect - c_hi).idxmin()
    verdict, why = verdict_above_chance(effect[at], c_lo[at], c_hi[at])
    if verdict == HOLDS:
        why = "in every layer the observed share lies below its chance range"
    layer = int(rows.loc[at, "layer"])
    per_layer = "; ".join(
        f"layer {int(r.layer)}: {100 * r.uninterpretable_share:.1f} % uninterpretable against "
        f"{100 * r.chance_share:.1f} % [{100 * r.chance_lo:.1f}, {100 * r.chance_hi:.1f}] by chance"
        for r in rows.itertuples(index=False)
    )
    why += (
        f"; shown: layer {layer}; effect from {fmt(effect.min(), 1)} to {fmt(effect.max(), 1)} points over "
        f"{_layers(rows['layer'])}; {per_layer}; {int(rows['n_permutations'].min())} permutations; every neuron is "
        "counted, so there is no interval"
    )
    why += random_shared(random_summary, kind, summary)
    return Finding(**common, value=float(effect[at]), ci_low=math.nan, ci_high=math.nan, chance_low=float(c_lo[at]),
                   chance_high=float(c_hi[at]), verdict=verdict, why=why)  # fmt: skip


def _pooled(rows: pd.DataFrame) -> tuple[float, float, float, float, float]:
    """Observed, null mean, and the effect with its chance range, pooled over layers (weights n)."""
    w = rows["n"].to_numpy(float) / rows["n"].sum()
    columns = ("observed", "null_mean", "null_lo", "null_hi")
    obs, mean, lo, hi = (float(np.sum(w * rows[c].to_numpy(float))) for c in columns)
    return obs, mean, 100 * (obs - mean), 100 * (lo - mean), 100 * (hi - mean)


def _within(agreement: pd.DataFrame | None, prop: str) -> pd.DataFrame:
    """The held-out ``within`` rows of ``prop`` (on its item kind) with a null; empty if none."""
    if agreement is None or not len(agreement):
        return pd.DataFrame()
    held = agreement[agreement["split"] == "held_out"]
    if held.empty:
        return held
    kind = _kind_of(prop, held["kind"].unique().tolist())
    rows = held[(held["property"] == prop) & (held["kind"] == kind) & (held["n"] > 0) & (held["measure"] == "within")]
    return rows.dropna(subset=["observed", "null_mean", "null_lo", "null_hi"])


def random_agreement(random_agreement_table: pd.DataFrame | None, prop: str, trained_effect: float) -> str:
    """The random-weights control of claim 2 in words: the random network's pooled agreement
    against its shuffled labels, and the trained effect minus the random one; "" without one."""
    if random_agreement_table is None:
        return ""
    rows = _within(random_agreement_table, prop)
    if rows.empty:
        return f"; random weights (same dissection, untrained network): no {NAMES[prop]} neuron in exactly one group"
    observed, null, value, _, _ = _pooled(rows)
    return (
        f"; random weights (same dissection, untrained network): {100 * observed:.1f} % agree against "
        f"{100 * null:.1f} % with shuffled labels ({int(rows['n'].sum())} labelled neurons), effect {fmt(value, 1)} "
        f"points, trained minus random {fmt(trained_effect - value, 1)} points"
    )


def claim_agreement(
    agreement: pd.DataFrame | None, prop: str, random_agreement_table: pd.DataFrame | None = None
) -> Finding:
    """Claim 2 for one property (module docstring); ``agreement``: agreement.tsv;
    ``random_agreement_table``: the random-weights network's agreement.tsv (None: no control)."""
    name = NAMES[prop]
    common = dict(study=STUDY,
                  claim=f"Descriptions agree with the property-neuron groups on held-out items above shuffled labels "
                        f"({name})",
                  paper=PAPER_AGREEMENT,
                  measure=f"share of {name} neurons whose best {name} concept is their group's, minus the same with "
                          "shuffled labels, held-out items, pooled over layers (points)",
                  source="dissection/<model>/<checkpoint>/agreement.tsv")  # fmt: skip
    if agreement is None or not len(agreement):
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why="no agreement table"))
    held = agreement[agreement["split"] == "held_out"]
    if held.empty:
        why = "no held-out items: every item selects (dissection.splits is empty, or covers every split)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    kind = _kind_of(prop, held["kind"].unique().tolist())
    mine = held[(held["property"] == prop) & (held["kind"] == kind) & (held["n"] > 0)]
    within = mine[(mine["measure"] == "within")].dropna(subset=["observed"])
    if within.empty:
        why = f"no neuron is in exactly one {name} group in any dissected layer"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if within["null_mean"].isna().all():
        why = "no permutation null (dissection.n_permutations is 0)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    within = within.dropna(subset=["null_mean", "null_lo", "null_hi"])
    observed, null, value, lo, hi = _pooled(within)
    verdict, why = verdict_above_chance(value, lo, hi)
    why += (
        f"; {int(within['n'].sum())} labelled neurons over {_layers(within['layer'])} ({kind} items): "
        f"{100 * observed:.1f} % agree against {100 * null:.1f} % with shuffled labels"
    )
    top1 = mine[mine["measure"] == "top1"].dropna(subset=["observed", "null_mean", "null_lo", "null_hi"])
    if len(top1):
        t_obs, t_null, *_ = _pooled(top1)
        why += f"; best concept overall: {100 * t_obs:.1f} % against {100 * t_null:.1f} %"
    why += "; the chance range pools the layers' null ranges (exact when they move together, wider otherwise)"
    why += random_agreement(random_agreement_table, prop, value)
    return Finding(**common, value=value, ci_low=math.nan, ci_high=math.nan, chance_low=lo, chance_high=hi,
                   verdict=verdict, why=why)  # fmt: skip


def claim_concept_pruning(pruning: pd.DataFrame | None, family: str, families: Sequence[str] = PROPERTIES) -> Finding:
    """Claim 3 for one family (module docstring); ``pruning``: pruning.tsv (None when pruning is off)."""
    name = NAMES[family]
    common = dict(study=STUDY,
                  claim=f"Pruning a concept's tagged neurons hurts that concept more than the rest, beyond a matched "
                        f"random control ({name})",
                  paper=PAPER_PRUNING,
                  measure="dA - dR of the tagged neurons minus that of the activation-rate-matched random control "
                          "(the rate on the concept's frames by default), "
                          "mean over pruned concepts (probe logits)",
                  source="dissection/<model>/<checkpoint>/pruning.tsv")  # fmt: skip
    if pruning is None:
        why = "concept-specific pruning is off (dissection.pruning.families is empty)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if family not in families:
        return Finding(
            **common, **no_numbers(verdict=UNMEASURED, why=f"{family} is not in dissection.pruning.families")
        )
    rows = pruning[pruning["family"] == family] if "family" in pruning else pruning.iloc[:0]
    if rows.empty:
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=f"no {family} rows in pruning.tsv"))
    mean = rows[rows["concept"] == "mean of pruned"].set_index("arm")
    if "difference" not in mean.index:
        why = f"no {name} concept has a tagged neuron"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    d, t = mean.loc["difference"], mean.loc["tagged"]
    value, lo, hi = float(d["gap"]), float(d["gap_lo"]), float(d["gap_hi"])
    verdict, why = verdict_positive(value, lo, hi)
    if verdict == HOLDS and not float(t["gap_lo"]) > 0:
        verdict, why = UNMEASURED, "beyond the control, but the tagged pruning's own dA - dR is not measurably above 0"
    pruned = rows[(rows["arm"] == "tagged") & (rows["status"] == "pruned") & (rows["concept"] != "mean of pruned")]
    skipped = rows[rows["status"].astype(str).str.startswith("not pruned")]["concept"].tolist()
    why += f"; tagged dA - dR {fmt(t['gap'], 2)} [{fmt(t['gap_lo'], 2)}, {fmt(t['gap_hi'], 2)}]"
    if "control" in mean.index:
        c = mean.loc["control"]
        why += f", matched control {fmt(c['gap'], 2)} [{fmt(c['gap_lo'], 2)}, {fmt(c['gap_hi'], 2)}]"
    why += f"; pruned: {', '.join(pruned['concept'])} ({int(t['n_tagged'])} tagged neurons)"
    why += matched_words(t, "the concept's own frames")
    why += balance_words(t, what="the controls' layers", source="pruning.tsv")
    if skipped:
        why += f"; not pruned (no tagged neuron): {', '.join(skipped)}"
    accuracy, majority = 100 * float(t["probe_accuracy"]), 100 * float(t["majority_rate"])
    why += (
        f"; probe accuracy {accuracy:.1f} % (majority class {majority:.1f} %) on {int(t['n_test_items'])} test items "
        f"of {int(t['n_test_utts'])} utterances; interval: paired bootstrap over test utterances"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


def dissection_findings(
    summary: pd.DataFrame | None,
    agreement: pd.DataFrame | None,
    pruning: pd.DataFrame | None,
    kinds: Sequence[str] = KINDS,
    families: Sequence[str] = PROPERTIES,
    random_summary: pd.DataFrame | None = None,
    random_agreement_table: pd.DataFrame | None = None,
) -> list[Finding]:
    """Every claim of network dissection on one run's tables (module docstring): ``summary``,
    ``agreement`` and ``pruning`` of ``dissection/<model>/<checkpoint>/`` (None when absent);
    ``kinds``: dissection.items; ``families``: dissection.pruning.families; ``random_summary``
    and ``random_agreement_table``: the random-weights control's summary.tsv and agreement.tsv
    (None when it is off)."""
    out = [claim_shared_concepts(summary, kind, random_summary) for kind in kinds]
    out += [claim_agreement(agreement, prop, random_agreement_table) for prop in PROPERTIES]
    out += [claim_concept_pruning(pruning, family, families) for family in PROPERTIES]
    return out
