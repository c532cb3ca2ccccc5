"""AND's two statements about model behaviour (Wu et al. 2024), checked on one run's dissection
of phone items (speechneurons.dissection.concept_kinds holds the measures).

1. Acoustic models discriminate audio by combinations of basic acoustic features rather than
   abstract concepts (one row per basis: the top concept, the description). Effect: among the
   interpretable neurons of the dissected layers, the share whose top concept (description) is
   of a basic acoustic attribute (loudness, pitch, brightness, tilt, voicing, duration) minus the
   share of a linguistic one (phone, phone type, word, word position, neighbouring phones), in
   points, pooled over layers, with a bootstrap interval over neurons. Control: the same
   architecture with random weights dissected the same way (checkpoint ``random``); its
   interval is the chance range (an acoustic lean that untrained weights give is not learned).
   Verdict: the symmetric rule; without a dissected random-weights model the row says
   "no control" and the verdict reads the interval alone.
2. Supervised training narrows neurons' attention while self-supervised training leaves them
   polysemantic: the SSL model against its CTC fine-tuned twin (same architecture and data,
   fine-tuned for phone recognition; checkpoint ``ctc``), neuron by neuron (same layer, same
   index). (a) Polysemanticity: concepts whose similarity is at least
   ``dissection.polysemantic_fraction`` of the neuron's best, SSL minus twin, mean over neurons
   with a paired bootstrap over neurons (positive: the twin is narrower). (b) Interpretability
   by depth: slope over layers of the twin's interpretable share minus the SSL model's (points
   per layer; positive: interpretability rises with depth after supervised training), paired
   bootstrap over neurons. The SSL model is the control of both; no separate chance range.
   Verdict: the symmetric rule; *not measurable here* when the twin was not dissected.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.dissection.concept_kinds import (
    acoustic_minus_linguistic,
    concept_classes,
    depth_slope,
    paired_difference,
    polysemanticity,
    twin_depth_trend,
)
from speechneurons.findings.claims import UNMEASURED, Finding, fmt, no_numbers
from speechneurons.findings.verdict import symmetric_verdict

STUDY = "Wu et al. 2024 (network dissection, AND)"
KIND = "phone"
BASIS_NAMES = {"top_concept": "top concept", "description": "description"}
PAPER_ACOUSTIC = (
    "AND: acoustic models discriminate audio by combinations of basic acoustic features rather than high-level "
    "abstract concepts; stated in words, AND's numbers are on another model"
)
PAPER_TWIN = (
    "AND: supervised training narrows neurons' attention (interpretability rises with depth), while "
    "self-supervised training leaves neurons polysemantic; stated in words, AND's numbers are on another model"
)


def claim_acoustic(
    trained: pd.DataFrame | None,
    control: pd.DataFrame | None,
    basis: str,
    resamples: int,
    seed: int,
    level: float,
) -> Finding:
    """Claim 1 for one basis (module docstring); ``trained``, ``control``: the neuron classes of
    :func:`speechneurons.dissection.concept_kinds.concept_classes` for the model and its
    random-weights twin (None: not dissected)."""
    name = BASIS_NAMES[basis]
    common = dict(study=STUDY,
                  claim=f"Neurons are about basic acoustic attributes rather than linguistic units ({name})",
                  paper=PAPER_ACOUSTIC,
                  measure=f"share of interpretable neurons whose {name} is acoustic minus the share whose {name} is "
                          "linguistic, phone items, pooled over layers (points)",
                  source="dissection/<model>/<checkpoint>/layer-*/neurons.tsv, shared.tsv")  # fmt: skip
    if trained is None or not len(trained):
        why = f"no interpretable neuron on {KIND} items in any dissected layer"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    t = acoustic_minus_linguistic(trained, basis, resamples, seed, level)
    pooled = t[t["layer"] == -1].iloc[0]
    value, lo, hi = (100 * float(pooled[c]) for c in ("effect", "ci_low", "ci_high"))
    c_lo = c_hi = math.nan
    tail = "no control: the random-weights model was not dissected"
    if control is not None and len(control):
        c = acoustic_minus_linguistic(control, basis, resamples, seed, level)
        cp = c[c["layer"] == -1].iloc[0]
        c_lo, c_hi = 100 * float(cp["ci_low"]), 100 * float(cp["ci_high"])
        tail = (
            f"control (random weights): {100 * cp['acoustic']:.1f} % acoustic, {100 * cp['linguistic']:.1f} % "
            f"linguistic of {int(cp['n'])} interpretable neurons, effect {fmt(100 * cp['effect'])} "
            f"[{fmt(c_lo)}, {fmt(c_hi)}] (its interval is the chance range)"
        )
    verdict, why = symmetric_verdict(value, lo, hi, c_lo, c_hi)
    layers = "; ".join(
        f"layer {int(r.layer)}: {100 * r.acoustic:.1f} % acoustic, {100 * r.linguistic:.1f} % linguistic of {int(r.n)}"
        for r in t[t["layer"] >= 0].itertuples(index=False)
    )
    why += (
        f"; pooled: {100 * pooled['acoustic']:.1f} % acoustic, {100 * pooled['linguistic']:.1f} % linguistic of "
        f"{int(pooled['n'])} interpretable neurons; {layers}; {tail}; interval: bootstrap over neurons"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=c_lo, chance_high=c_hi, verdict=verdict,
                   why=why)  # fmt: skip


def _twin_missing(common: dict, ssl, twin) -> Finding | None:
    if not twin:
        why = (
            "the CTC fine-tuned twin was not dissected (dissection.ctc_twin is off: turn it on to save the reset-top "
            "n = 0 model as checkpoint 'ctc' and dissect it)"
        )
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    if sorted(ssl) != sorted(twin):
        why = f"the two models were dissected at different layers ({sorted(ssl)} and {sorted(twin)})"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    return None


def claim_twin_polysemantic(
    ssl: Mapping[int, tuple[np.ndarray, np.ndarray]],
    twin: Mapping[int, tuple[np.ndarray, np.ndarray]] | None,
    fraction: float,
    resamples: int,
    seed: int,
    level: float,
) -> Finding:
    """Claim 2a (module docstring); ``ssl``, ``twin``: {layer: (interpretable [neurons] bool,
    similarity [neurons, concepts])} of phone items (``twin`` None or empty: not dissected)."""
    common = dict(study=STUDY,
                  claim="Supervised training narrows neurons' attention: the CTC fine-tuned twin's neurons respond to "
                        "fewer concepts",
                  paper=PAPER_TWIN,
                  measure=f"concepts per neuron (similarity >= {fraction:g} x the neuron's best), SSL model minus its "
                          "CTC fine-tuned twin, same neurons, mean over dissected layers",
                  source="dissection/<model>/{<checkpoint>,ctc}/layer-*/similarity.npz")  # fmt: skip
    missing = _twin_missing(common, ssl, twin)
    if missing:
        return missing
    layers = sorted(ssl)
    a = [polysemanticity(ssl[x][1], fraction) for x in layers]
    b = [polysemanticity(twin[x][1], fraction) for x in layers]
    if any(len(p) != len(q) for p, q in zip(a, b, strict=True)):
        why = "the two models differ in their number of neurons"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    value, lo, hi = paired_difference(np.concatenate(a), np.concatenate(b), resamples, [seed, 1], level)
    verdict, why = symmetric_verdict(value, lo, hi)
    per_layer = "; ".join(
        f"layer {x}: {p.mean():.2f} against {q.mean():.2f}" for x, p, q in zip(layers, a, b, strict=True)
    )
    slope_a = depth_slope(layers, [p.mean() for p in a])
    slope_b = depth_slope(layers, [q.mean() for q in b])
    why += (
        f"; concepts per neuron, SSL against twin: {per_layer}; trend by depth {fmt(slope_a, 3)} (SSL) and "
        f"{fmt(slope_b, 3)} (twin) concepts per layer; control: the SSL model itself; interval: paired bootstrap "
        "over neurons"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


def claim_twin_depth(
    ssl: Mapping[int, tuple[np.ndarray, np.ndarray]],
    twin: Mapping[int, tuple[np.ndarray, np.ndarray]] | None,
    resamples: int,
    seed: int,
    level: float,
) -> Finding:
    """Claim 2b (module docstring)."""
    common = dict(study=STUDY,
                  claim="Supervised training makes interpretability rise with depth (CTC fine-tuned twin against the "
                        "SSL model)",
                  paper=PAPER_TWIN,
                  measure="slope over layers of the twin's interpretable share minus the SSL model's, phone items "
                          "(points per layer)",
                  source="dissection/<model>/{<checkpoint>,ctc}/layer-*/neurons.tsv")  # fmt: skip
    missing = _twin_missing(common, ssl, twin)
    if missing:
        return missing
    layers = sorted(ssl)
    if len(layers) < 2:
        why = f"only layer {layers[0]} was dissected: no trend by depth"
        return Finding(**common, **no_numbers(verdict=UNMEASURED, why=why))
    ia = [np.asarray(ssl[x][0], dtype=float) for x in layers]
    ib = [np.asarray(twin[x][0], dtype=float) for x in layers]
    value, lo, hi = twin_depth_trend(layers, ib, ia, resamples, seed, level)
    verdict, why = symmetric_verdict(value, lo, hi)
    share = "; ".join(
        f"layer {x}: {100 * (1 - p.mean()):.1f} % against {100 * (1 - q.mean()):.1f} %"
        for x, p, q in zip(layers, ia, ib, strict=True)
    )
    why += (
        f"; uninterpretable share, SSL against twin: {share}; slopes of the interpretable share "
        f"{fmt(100 * depth_slope(layers, [p.mean() for p in ia]), 2)} (SSL) and "
        f"{fmt(100 * depth_slope(layers, [q.mean() for q in ib]), 2)} (twin) points per layer; control: the SSL model "
        "itself; interval: paired bootstrap over neurons"
    )
    return Finding(**common, value=value, ci_low=lo, ci_high=hi, chance_low=math.nan, chance_high=math.nan,
                   verdict=verdict, why=why)  # fmt: skip


def twin_layers(neurons: Sequence[pd.DataFrame], similarities: Sequence[Mapping[str, np.ndarray]]) -> dict:
    """{layer: (interpretable, similarity)} of phone items from per-layer neurons.tsv tables and
    similarity.npz contents (``phone__similarity``), in the same layer order."""
    out = {}
    for table, sim in zip(neurons, similarities, strict=True):
        rows = table[table["kind"] == KIND].sort_values("neuron")
        if rows.empty or f"{KIND}__similarity" not in sim:
            continue
        interp = rows["interpretable"].astype(str).str.lower().eq("true").to_numpy()
        out[int(rows["layer"].iloc[0])] = (interp, np.asarray(sim[f"{KIND}__similarity"]))
    return out


def kinds_findings(
    neurons: Sequence[pd.DataFrame],
    shared: Sequence[pd.DataFrame],
    control_neurons: Sequence[pd.DataFrame],
    control_shared: Sequence[pd.DataFrame],
    ssl: Mapping[int, tuple[np.ndarray, np.ndarray]],
    twin: Mapping[int, tuple[np.ndarray, np.ndarray]] | None,
    fraction: float,
    resamples: int,
    seed: int,
    level: float,
) -> list[Finding]:
    """Every claim of the module docstring: per-layer neurons.tsv and shared.tsv of the model
    (and of its random-weights control, empty lists when not dissected), and the phone-item
    layers of the SSL model and its fine-tuned twin (:func:`twin_layers`)."""

    def classes(ns, ss):
        if not ns:
            return None
        return concept_classes(pd.concat(ns, ignore_index=True), pd.concat(ss, ignore_index=True) if ss else None)

    trained, control = classes(neurons, shared), classes(control_neurons, control_shared)
    out = [claim_acoustic(trained, control, basis, resamples, seed, level) for basis in BASIS_NAMES]
    out.append(claim_twin_polysemantic(ssl, twin, fraction, resamples, seed, level))
    out.append(claim_twin_depth(ssl, twin, resamples, seed, level))
    return out
