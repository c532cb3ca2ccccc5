"""The claims of Lin et al. (2024) checked on one run (one corpus, one model).

1. Gender and pitch neurons are most numerous at the bottom and top layers. Effect: the mean
   count of the first and last layers minus the mean count of the layers between them
   ("ends minus middle"). Interval: bootstrap over speakers within gender (the same resample
   in every layer), read as the interval centred on the effect
   (:func:`speechneurons.stats.centred_interval`, the union of the percentile interval and its
   mirror image): resampled counts are biased, units passing the selection more often on the
   repeated frames of a resample, and the centred interval widens with that shift rather than
   moving with it. Chance: the same effect under the property's own null (speakers relabeled
   for gender, pitch bins shifted circularly within each utterance for pitch; draw i is the
   same in every layer); also given: the counts and the effect for the architecture with
   random weights. The design cannot test the claim when no layer's count lies above its
   chance range.
2. Gender ∩ pitch is the largest pairwise overlap (layer 1). Effect: |gender ∩ pitch| minus the
   larger of |phone type ∩ gender| and |phone type ∩ pitch| at the first layer; interval as in
   1, chance the widest range of the gender and pitch nulls; also given: the overlap with
   per-gender pitch bins (what pooled bins build in).
3. Protecting the property neurons degrades a pruned model less than norm pruning, and norm
   less than random pruning. Effect: the paired difference protect - norm (and norm - random)
   at the sparsity nearest the paper's, in the direction of "better", on the last layer's
   probe; chance: the same difference for the matched control protect_random (a random set of
   the same size and activation rates protected instead).
4. Erasing one gender's neurons hurts that gender's speaker identification most. Effect: the
   increase of SID error on the erased gender minus that on the other gender; chance: the same
   margin for the matched random erasure; the verdict also needs the erasure to hurt the erased
   gender more than its matched random erasure does.
5. (The same for phone types: erasing a type's neurons hurts that type's phone-class error most.)
6. Claims 4 and 5 read as model editing: the probe fitted on the unedited model scores the
   edited model (control_effects.tsv). Effect: the same margin; interval: its paired bootstrap
   over the task's unit; chance: the central range of the margin over the matched control
   draws, whose rank p-value the verdict also needs. A retrained probe asks whether the
   information is gone from the layer; a kept one asks whether the model's own use of it is.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from speechneurons.findings.claims import FAILS, HOLDS, UNMEASURED, Finding, fmt, no_numbers
from speechneurons.findings.verdict import (
    CANNOT_TEST,
    at_ceiling,
    at_chance_everywhere,
    matched_words,
    read_against_controls,
    symmetric_verdict,
)
from speechneurons.properties import reference as ref
from speechneurons.stats import centred_interval, percentile_interval

STUDY = "Lin et al. 2024 (property neurons)"
HIGHER_IS_BETTER = {"phone": False, "sid": True, "gender": True, "f0": False}
TASK_NAMES = {
    "phone": "frame phone error (%)",
    "sid": "SID accuracy (%)",
    "gender": "gender accuracy (%)",
    "f0": "log-F0 MSE",
}


#: what the SID claims' measures add when speaker identification was scored on single frames
#: (``probes.sid_unit: frame``) rather than on utterance means
SINGLE_FRAMES = "on single frames"


def task_name(task: str, sid_unit: str = "utterance") -> str:
    """The name of a probe task's measure, saying when speaker identification is scored on single
    frames (``probes.sid_unit: frame``) rather than on utterance means."""
    return f"SID accuracy {SINGLE_FRAMES} (%)" if task == "sid" and sid_unit == "frame" else TASK_NAMES[task]


def ends_minus_middle(counts) -> float:
    """Mean of the first and last values minus the mean of the values between them."""
    c = np.asarray(counts, dtype=float)
    return float((c[0] + c[-1]) / 2 - c[1:-1].mean()) if len(c) >= 3 else math.nan


def _per_replicate(replicates: pd.DataFrame, kind: str, column: str, prop: str | None = None) -> pd.DataFrame:
    """Replicates of one kind as seed x layer (layers sorted) for one set-size column; ``prop``:
    the null of that property only (replicates of the per-property nulls have a ``property``
    column); kind 'bootstrap_speaker' falls back to 'bootstrap' in older replicates."""
    if kind == "bootstrap_speaker" and not (replicates["kind"] == kind).any():
        kind = "bootstrap"
    part = replicates[replicates["kind"] == kind]
    if prop is not None and "property" in part.columns:
        part = part[part["property"] == prop]
    return part.pivot_table(index="seed", columns="layer", values=column, aggfunc="first").sort_index(axis=1)


def counts_at_chance(summary: pd.DataFrame, prop: str) -> str | None:
    """Why a claim about ``prop`` neurons cannot be tested here: no layer's count lies above the
    upper end of its chance range (nothing above chance to locate, erase or protect); None when
    some layer's does, or when the summary has no chance range."""
    col, high = f"n_{prop}", f"chance_high_n_{prop}"
    if high not in summary or col not in summary:
        return None
    s = summary.sort_values("layer")
    if not at_chance_everywhere(s[col], s[high]):
        return None
    pairs = ", ".join(f"{int(n)} (chance up to {h:g})" for n, h in zip(s[col], s[high], strict=True))
    return f"no layer's {prop}-neuron count lies above its chance range ({pairs})"


def _seeds(random_summary: pd.DataFrame) -> str:
    """', mean of n initialisations' for a random-weights table averaged over several seeds."""
    n = random_summary["random_seeds"].max() if "random_seeds" in random_summary else math.nan
    return f", mean of {int(n)} initialisations" if n == n and n > 1 else ""


def claim_extreme_layers(
    prop: str, summary: pd.DataFrame, replicates: pd.DataFrame, random_summary: pd.DataFrame | None, level: float
) -> Finding:
    """Claim 1 for ``prop`` ('gender' or 'pitch')."""
    col = f"n_{prop}"
    s = summary.sort_values("layer")
    paper_counts = ref.REFERENCE_COUNTS[prop]
    paper = (
        f"{prop} neurons (MelHuBERT, D = {ref.REFERENCE_D}): {paper_counts[0]} at layer 1 and {paper_counts[-1]} "
        f"at layer 12 against {min(paper_counts[1:-1])}-{max(paper_counts[1:-1])} between; "
        f"ends minus middle = {ends_minus_middle(paper_counts):+.1f}"
    )
    common = dict(
        study=STUDY,
        claim=f"{prop.capitalize()} neurons are most numerous at the bottom and top layers",
        paper=paper,
        measure=f"ends minus middle of the {prop}-neuron count per layer (neurons)",
        source="properties/<model>/final/summary.tsv, layer-*/replicates.tsv",
    )
    if len(s) < 3:
        return Finding(
            **common, **no_numbers(verdict=UNMEASURED, why=f"needs at least 3 layers, the model has {len(s)}")
        )
    value = ends_minus_middle(s[col])
    boot = _per_replicate(replicates, "bootstrap_speaker", col)
    null = _per_replicate(replicates, "null", col, prop)
    ci = centred_interval(boot.apply(ends_minus_middle, axis=1), value, level) if len(boot) else (math.nan, math.nan)
    chance = percentile_interval(null.apply(ends_minus_middle, axis=1), level) if len(null) else (math.nan, math.nan)
    verdict, why = symmetric_verdict(value, *ci, *chance, cannot_test=counts_at_chance(s, prop), chance_expected=True)
    counts = ", ".join(str(int(x)) for x in s[col])
    why += f"; counts per layer {counts}"
    if random_summary is not None and len(random_summary) >= 3:
        r = random_summary.sort_values("layer")
        why += (
            f"; random weights (the same architecture untrained, same data{_seeds(r)}): counts "
            f"{', '.join(f'{x:g}' for x in r[col])}, ends minus middle {ends_minus_middle(r[col]):+.1f}"
        )
    return Finding(
        **common,
        value=value,
        ci_low=ci[0],
        ci_high=ci[1],
        chance_low=chance[0],
        chance_high=chance[1],
        verdict=verdict,
        why=why,
    )


OVERLAP_CLAIM = "Gender ∩ pitch is the largest overlap between property-neuron sets"
OVERLAP = "overlap"  # the claim's name in the simulated power table (findings.power)
OVERLAP_COLUMNS = ("overlap_gender_pitch", "overlap_phone_type_gender", "overlap_phone_type_pitch")


def _overlap_margin(frame: pd.DataFrame) -> pd.Series:
    gender_pitch, phone_type_gender, phone_type_pitch = OVERLAP_COLUMNS
    return frame[gender_pitch] - np.maximum(frame[phone_type_gender], frame[phone_type_pitch])


def claim_gender_pitch_overlap(summary: pd.DataFrame, replicates: pd.DataFrame, level: float) -> Finding:
    """Claim 2, at the model's first layer."""
    r = ref.REFERENCE_OVERLAPS_LAYER1
    paper = (
        f"layer 1: gender ∩ pitch {r['overlap_gender_pitch']}, phone type ∩ gender {r['overlap_phone_type_gender']}, "
        f"phone type ∩ pitch {r['overlap_phone_type_pitch']}; margin "
        f"{r['overlap_gender_pitch'] - max(r['overlap_phone_type_gender'], r['overlap_phone_type_pitch']):+d}"
    )
    first = summary.sort_values("layer").iloc[0]
    layer = int(first["layer"])
    rep = replicates[replicates["layer"] == layer]
    value = float(_overlap_margin(first[list(OVERLAP_COLUMNS)].to_frame().T.astype(float)).iloc[0])
    boot_kind = "bootstrap_speaker" if (rep["kind"] == "bootstrap_speaker").any() else "bootstrap"
    boot, null = rep[rep["kind"] == boot_kind], rep[rep["kind"] == "null"]
    ci = centred_interval(_overlap_margin(boot), value, level) if len(boot) else (math.nan, math.nan)
    # the null of each property the margin's larger overlap involves: the widest range
    nulls = [null[null["property"] == p] for p in ("gender", "pitch")] if "property" in null else [null]
    ranges = [percentile_interval(_overlap_margin(n), level) for n in nulls if len(n)]
    chance = (min(r[0] for r in ranges), max(r[1] for r in ranges)) if ranges else (math.nan, math.nan)
    overlaps = {k: int(first[k]) for k in OVERLAP_COLUMNS}
    if sum(overlaps.values()) == 0:
        verdict, why = UNMEASURED, f"no property neurons shared between properties at layer {layer}"
    else:
        at_chance = [counts_at_chance(summary[summary["layer"] == layer], p) for p in ("gender", "pitch")]
        cannot = "; ".join(r for r in at_chance if r) if all(at_chance) else None
        verdict, why = symmetric_verdict(value, *ci, *chance, cannot_test=cannot, chance_expected=True)
    why += (
        f"; layer {layer}: gender ∩ pitch {overlaps['overlap_gender_pitch']}, phone type ∩ gender "
        f"{overlaps['overlap_phone_type_gender']}, phone type ∩ pitch {overlaps['overlap_phone_type_pitch']}"
    )
    for binning in ("per_gender", "pooled"):
        col = f"overlap_gender_pitch_{binning}"
        if col in first and pd.notna(first[col]):
            why += f"; with {binning.replace('_', '-')} pitch bins gender ∩ pitch = {int(first[col])}"
    return Finding(
        study=STUDY,
        claim=OVERLAP_CLAIM,
        paper=paper,
        measure=f"|gender ∩ pitch| minus the larger other pairwise overlap, layer {layer} (neurons)",
        value=value,
        ci_low=ci[0],
        ci_high=ci[1],
        chance_low=chance[0],
        chance_high=chance[1],
        verdict=verdict,
        why=why,
        source="properties/<model>/final/summary.tsv, layer-*/replicates.tsv",
    )


def _last_layer(rows: pd.DataFrame) -> pd.DataFrame:
    # a boolean array, not .apply: on no rows .apply gives an empty object Series, which pandas
    # reads as a column selection (a run without random pruning lost every column here)
    return rows[np.array(["last" in r for r in rows["layer_role"].astype(str).str.split("+")], dtype=bool)]


def nearest_sparsity(pruning: pd.DataFrame, target: float = ref.REFERENCE_PRUNING_SPARSITY) -> float:
    """The configured sparsity nearest the paper's that protect, norm and random all have."""
    have = None
    for strategy in ("protect", "norm", "random"):
        s = set(pruning.loc[pruning["strategy"] == strategy, "sparsity"].round(6))
        have = s if have is None else have & s
    if not have:
        return math.nan
    return min(have, key=lambda s: (abs(s - target), s))


def control_row(controls: pd.DataFrame | None, comparison: str, task: str, layer: int | None = None):
    """The row of control_effects.tsv of one comparison and task (at ``layer``, else the last
    probe layer scored); None when absent or not scored (``n_controls`` 0)."""
    if controls is None or not len(controls):
        return None
    rows = controls[(controls["comparison"] == comparison) & (controls["task"] == task) & (controls["n_controls"] > 0)]
    if layer is not None:
        rows = rows[rows["layer"] == layer]
    return rows.sort_values("layer").iloc[-1] if len(rows) else None


def claim_protect_beats_norm(
    task: str,
    pruning: pd.DataFrame,
    controls: pd.DataFrame | None = None,
    level: float = 0.95,
    sid_unit: str = "utterance",
) -> Finding:
    """Claim 3 for one probe task, at the last layer's probe and the sparsity nearest the paper's.
    ``controls``: control_effects.tsv (the effect against its matched control draws); a probe
    at ceiling in the unpruned, protect and norm models cannot show a difference."""
    r = ref.REFERENCE_PRUNING[task]
    label = task_name(task, sid_unit)
    sign = 1.0 if HIGHER_IS_BETTER[task] else -1.0
    paper = (
        f"{r['metric']} at about 577 of {ref.REFERENCE_D} rows per layer (sparsity "
        f"{ref.REFERENCE_PRUNING_SPARSITY:.2f}): unpruned {r['unpruned']}, protect {r['protect']}, norm {r['norm']}; "
        f"random pruning worse than norm"
    )
    s = nearest_sparsity(pruning)
    claim = "Pruning that protects the property neurons degrades less than norm pruning, and norm less than random"
    common = dict(
        study=STUDY,
        claim=claim,
        paper=paper,
        source="experiments/<model>/pruning.tsv",
        measure=f"protect minus norm, {label}, improvement > 0 (points), sparsity {s:g}",
    )
    rows = _last_layer(pruning[(pruning["task"] == task) & (pruning["sparsity"].round(6) == s)])
    get = {st: rows[rows["strategy"] == st] for st in ("protect", "random", "protect_random")}
    if math.isnan(s) or not len(get["protect"]) or "vs_norm" not in rows:
        return Finding(
            **common,
            **no_numbers(
                verdict=UNMEASURED, why=f"no protect / norm / random variants of the {task} probe at one sparsity"
            ),
        )

    def improvement(st):
        if not len(get[st]):
            return math.nan, math.nan, math.nan
        row = get[st].iloc[0]
        lo, hi = sorted([sign * row["vs_norm_ci_low"], sign * row["vs_norm_ci_high"]])
        return sign * row["vs_norm"], lo, hi

    value, lo, hi = improvement("protect")
    rnd, rnd_lo, rnd_hi = improvement("random")
    ctl, ctl_lo, ctl_hi = improvement("protect_random")
    unpruned = _last_layer(pruning[(pruning["strategy"] == "unpruned") & (pruning["task"] == task)])
    shown = [unpruned["value"].iloc[0] if len(unpruned) else math.nan, get["protect"]["value"].iloc[0]]
    shown += list(rows.loc[rows["strategy"] == "norm", "value"])
    best = 100.0 if HIGHER_IS_BETTER[task] else 0.0
    ceiling = f"the {label} probe is at ceiling ({best:g}) unpruned and pruned" if at_ceiling(shown, best) else None
    verdict, why = symmetric_verdict(value, lo, hi, ctl_lo, ctl_hi, cannot_test=ceiling)
    random_worse = rnd_hi < 0
    if verdict == HOLDS and not random_worse:
        verdict, why = UNMEASURED, "protect beats norm, but random pruning is not measurably worse than norm"
    if verdict != FAILS and rnd_lo > 0:
        verdict, why = FAILS, "random pruning is measurably better than norm"
    why += (
        f"; random minus norm {fmt(rnd, 2)} [{fmt(rnd_lo, 2)}, {fmt(rnd_hi, 2)}]"
        f"; matched protect_random minus norm (the chance range) {fmt(ctl, 2)} [{fmt(ctl_lo, 2)}, {fmt(ctl_hi, 2)}]"
    )
    if ceiling is None:
        verdict, why = read_against_controls(verdict, why, control_row(controls, f"prune {s:g}", task), level)
    if len(unpruned):
        why += f"; unpruned {label} {unpruned['value'].iloc[0]:.2f}"
    return Finding(
        **common, value=value, ci_low=lo, ci_high=hi, chance_low=ctl_lo, chance_high=ctl_hi, verdict=verdict, why=why
    )


def _margin(rows: pd.DataFrame, erased: str) -> tuple[float, float, float, pd.Series, pd.Series] | None:
    """Own-group change minus the largest change on another group, with an approximate interval:
    the two percentile intervals' half-widths added in quadrature (a normal approximation that
    treats the two changes as independent; the groups are different speakers for gender, but
    frames of the same utterances for phone types, where it is only indicative)."""
    own = rows[rows["scored"].astype(str) == erased]
    others = rows[rows["scored"].astype(str) != erased].dropna(subset=["delta"])
    if not len(own) or not len(others) or pd.isna(own["delta"].iloc[0]):
        return None
    o, worst = own.iloc[0], others.sort_values("delta", ascending=False).iloc[0]
    value = float(o["delta"] - worst["delta"])
    half = math.hypot(
        (o["delta_ci_high"] - o["delta_ci_low"]) / 2, (worst["delta_ci_high"] - worst["delta_ci_low"]) / 2
    )
    return value, value - half, value + half, o, worst


def _erasure_words(prop: str, erased: str, groups: Mapping[str, str] | None, sid_unit: str) -> tuple[str, str, str]:
    """(the task read, the erased group's name, the claim) of an erasure claim (4, 5 and 6)."""
    task = "phone-class error"
    if prop == "gender":
        task = f"SID error {SINGLE_FRAMES}" if sid_unit == "frame" else "SID error"
    claim = (
        "Erasing one gender's neurons hurts that gender's speaker identification most"
        if prop == "gender"
        else "Erasing one phone type's neurons hurts that type's phone classification most"
    )
    return task, (groups or {}).get(erased, erased), claim


def claim_erasure_hits_own_group(
    prop: str,
    erased: str,
    matrix: pd.DataFrame,
    control: pd.DataFrame,
    paper: str,
    groups: Mapping[str, str] | None = None,
    cannot_test: str | None = None,
    controls: pd.DataFrame | None = None,
    level: float = 0.95,
    sid_unit: str = "utterance",
) -> Finding:
    """Claims 4 and 5: erasing ``erased``'s neurons raises the error on ``erased`` more than on
    the other scored groups (the last layer's probe). ``matrix`` and ``control``:
    :func:`speechneurons.experiments.erasure.erasure_matrix` of the erasures and of their
    matched random controls; the chance range is the same margin for the control.
    ``cannot_test``: why the design cannot test the claim here (e.g. no count above chance:
    nothing but chance neurons to erase); the numbers are still given. ``controls``:
    control_effects.tsv (the margin against its matched control draws, fixed probes); a probe
    with no error on any scored group before and after the erasure (at ceiling) cannot show it."""
    task, name, claim = _erasure_words(prop, erased, groups, sid_unit)
    names = groups or {}
    common = dict(
        study=STUDY,
        claim=claim,
        paper=paper,
        source=f"experiments/<model>/erasure.tsv (erasure_{prop}.tsv)",
        measure=f"erase {name}: increase of {task} on {name} minus the largest on another group (points)",
    )
    nan = dict(value=math.nan, ci_low=math.nan, ci_high=math.nan, chance_low=math.nan, chance_high=math.nan)
    rows = matrix[matrix["erased"].astype(str) == erased] if "erased" in matrix else matrix.iloc[:0]
    if not len(rows):
        return Finding(**common, **nan, verdict=UNMEASURED, why=f"no erasure of {name} in this run")
    if rows["status"].astype(str).str.startswith("empty").all():
        return Finding(**common, **nan, verdict=UNMEASURED, why=f"no property neurons of group {erased} to erase")
    found = _margin(rows, erased)
    if found is None:
        return Finding(**common, **nan, verdict=UNMEASURED, why="the erased group or the others were not scored")
    value, lo, hi, o, worst = found
    ctl_rows = control[control["erased"].astype(str) == erased] if "erased" in control else control.iloc[:0]
    ctl = _margin(ctl_rows, erased) if len(ctl_rows) else None
    chance_lo, chance_hi = (ctl[1], ctl[2]) if ctl else (math.nan, math.nan)
    if not cannot_test and at_ceiling([*rows["baseline"], *rows["value"]], 0.0):
        cannot_test = f"the {task} probe is at ceiling (no error on any group) before and after the erasure"
    verdict, why = symmetric_verdict(value, lo, hi, chance_lo, chance_hi, cannot_test=cannot_test)
    vs_lo = o.get("vs_control_ci_low", math.nan)
    if verdict == HOLDS and not (vs_lo > 0):
        verdict, why = UNMEASURED, f"the error on {name} does not rise measurably more than with the matched control"
    other = names.get(str(worst["scored"]), worst["scored"])
    why += (
        f"; {int(o['n_erased'])} neurons erased; change on {name} {fmt(o['delta'], 2)} "
        f"[{fmt(o['delta_ci_low'], 2)}, {fmt(o['delta_ci_high'], 2)}], on {other} "
        f"{fmt(worst['delta'], 2)} [{fmt(worst['delta_ci_low'], 2)}, {fmt(worst['delta_ci_high'], 2)}]; "
        f"on {name}, erasure minus matched random erasure {fmt(o.get('vs_control', math.nan), 2)} "
        f"[{fmt(vs_lo, 2)}, {fmt(o.get('vs_control_ci_high', math.nan), 2)}]; the margin's interval is a normal "
        "approximation from the two groups' intervals"
    )
    if not cannot_test:
        verdict, why = read_against_controls(verdict, why, control_row(controls, f"erase {prop}-{erased}",
                                                                       ERASURE_TASK[prop]), level)  # fmt: skip
    return Finding(
        **common,
        value=value,
        ci_low=lo,
        ci_high=hi,
        chance_low=chance_lo,
        chance_high=chance_hi,
        verdict=verdict,
        why=why,
    )


GENDER_NAMES = {"F": "female speakers", "M": "male speakers"}
#: the probe task each erasure is read on (as experiments.erasure.ERASURE_VIEW)
ERASURE_TASK = {"gender": "sid", "phone_type": "phone", "pitch": "f0"}
TYPE_NAMES = {"vowel": "vowels", "voiced_consonant": "voiced consonants", "unvoiced_consonant": "unvoiced consonants"}


#: what the erasure claims read by the unedited model's probe add to the claim (claim 6)
KEPT_PROBE = "the unedited model's probe kept (model editing)"


def claim_erasure_kept_probe(
    prop: str,
    erased: str,
    controls: pd.DataFrame | None,
    paper: str,
    groups: Mapping[str, str] | None = None,
    level: float = 0.95,
    sid_unit: str = "utterance",
) -> Finding:
    """Claim 6: claim 4 or 5 with the probe fitted once on the unedited model and kept, scoring
    the edited model's test features (``controls``: control_effects.tsv, the last probe layer).
    The effect's interval is its paired bootstrap; the chance range is the central range of the
    same margin over the matched control draws, and *holds* also needs its rank p-value. An
    erasure that was not scored (no count above chance: nothing but chance neurons to erase)
    gives *not measurable here* with control_effects' reason."""
    task, name, claim = _erasure_words(prop, erased, groups, sid_unit)
    common = dict(
        study=STUDY,
        claim=f"{claim}, {KEPT_PROBE}",
        paper=paper,
        source="experiments/<model>/control_effects.tsv",
        measure=f"erase {name}: increase of {task} on {name} minus the largest on another group, "
        "probe of the unedited model (points)",
    )
    comparison, probe_task = f"erase {prop}-{erased}", ERASURE_TASK[prop]
    if controls is None or not len(controls):
        why = "no control_effects.tsv (experiments.scored_control_draws is 0)"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    row = control_row(controls, comparison, probe_task)
    if row is None:  # absent, or listed as not scored with control_effects' reason
        rows = controls[(controls["comparison"] == comparison) & (controls["task"] == probe_task)]
        if not len(rows):
            return Finding(**common, **no_numbers(verdict=UNMEASURED, why=f"no erasure of {name} in this run"))
        why = str(rows["not_scored"].fillna("").iloc[-1]) if "not_scored" in rows else ""
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=f"{CANNOT_TEST}: {why or 'not scored'}"))
    value = float(row["effect"])
    lo, hi = (float(row.get(k, math.nan)) for k in ("effect_ci_low", "effect_ci_high"))
    c_lo, c_hi = float(row["control_low"]), float(row["control_high"])
    verdict, why = symmetric_verdict(value, lo, hi, c_lo, c_hi)
    verdict, why = read_against_controls(verdict, why, row, level)
    why += f"; layer {int(row['layer'])}"
    why += matched_words(row, f"the frames of {name}")
    return Finding(
        **common, value=value, ci_low=lo, ci_high=hi, chance_low=c_lo, chance_high=c_hi, verdict=verdict, why=why
    )


def property_neuron_findings(
    summary: pd.DataFrame,
    replicates: pd.DataFrame,
    random_summary: pd.DataFrame | None,
    pruning: pd.DataFrame,
    erasure: pd.DataFrame,
    level: float,
    controls: pd.DataFrame | None = None,
    sid_unit: str = "utterance",
) -> list[Finding]:
    """Every claim of Lin et al. on one run's tables (module docstring); ``erasure``: erasure.tsv;
    ``controls``: control_effects.tsv (None when experiments.scored_control_draws is 0);
    ``sid_unit``: what the SID probe scored (probes.sid_unit), named in the SID claims' measure."""
    from speechneurons.experiments.erasure import erasure_matrix

    out = [claim_extreme_layers(p, summary, replicates, random_summary, level) for p in ("gender", "pitch")]
    out.append(claim_gender_pitch_overlap(summary, replicates, level))
    tasks = set(pruning["task"]) if "task" in pruning else set()
    out += [
        claim_protect_beats_norm(task, pruning, controls, level, sid_unit) for task in ("phone", "sid") if task in tasks
    ]
    matrices = {
        prop: (erasure_matrix(erasure, prop), erasure_matrix(erasure, prop, kind="random"))
        for prop in ("gender", "phone_type")
    }
    eg = ref.REFERENCE_ERASURE_GENDER
    for g in ("F", "M"):
        other = "M" if g == "F" else "F"
        paper = f"erase {g}: SID error +{eg[g][g]} on {GENDER_NAMES[g]}, +{eg[g][other]} on {GENDER_NAMES[other]}"
        out.append(
            claim_erasure_hits_own_group(
                "gender",
                g,
                *matrices["gender"],
                paper,
                GENDER_NAMES,
                counts_at_chance(summary, "gender"),
                controls,
                level,
                sid_unit,
            )  # fmt: skip
        )
    d, off = ref.REFERENCE_ERASURE_PHONE_TYPE_DIAGONAL, ref.REFERENCE_ERASURE_PHONE_TYPE_OFF_DIAGONAL_MAX
    for t in ("vowel", "voiced_consonant", "unvoiced_consonant"):
        paper = f"erase {TYPE_NAMES[t]}: phone-class error +{d[t]} on {TYPE_NAMES[t]}; other cells within ±{off}"
        out.append(
            claim_erasure_hits_own_group(
                "phone_type",
                t,
                *matrices["phone_type"],
                paper,
                TYPE_NAMES,
                counts_at_chance(summary, "phone_type"),
                controls,
                level,
            )  # fmt: skip
        )
    for g in ("F", "M"):
        other = "M" if g == "F" else "F"
        paper = f"erase {g}: SID error +{eg[g][g]} on {GENDER_NAMES[g]}, +{eg[g][other]} on {GENDER_NAMES[other]}"
        out.append(claim_erasure_kept_probe("gender", g, controls, paper, GENDER_NAMES, level, sid_unit))
    for t in ("vowel", "voiced_consonant", "unvoiced_consonant"):
        paper = f"erase {TYPE_NAMES[t]}: phone-class error +{d[t]} on {TYPE_NAMES[t]}; other cells within ±{off}"
        out.append(claim_erasure_kept_probe("phone_type", t, controls, paper, TYPE_NAMES, level))
    return out
