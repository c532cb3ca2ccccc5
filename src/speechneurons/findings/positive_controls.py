"""The positive controls beside a run's own verdicts (docs/positive-controls.md).

For every claim of the findings page: the verdict of the planted model (the claim true by
construction: it should hold) and of its null twin (the same construction keyed to a nuisance:
it should not), read from their own findings.tsv when those runs exist in the same results
folder (configs/positive-controls.yaml writes them), and for the claims whose power was
simulated, the share of simulated runs that hold at each planted effect (power.tsv), and for
the SAE claims the verdicts on a simulated planted sparse dictionary and its null twin
(saes.tsv, :mod:`speechneurons.findings.sae_control`). A reader
sees whether a "not measurable here" on the model is the model's or the workflow's.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from speechneurons.findings.property_neurons import OVERLAP, OVERLAP_CLAIM, SINGLE_FRAMES

ABSENT = "no run"
#: this model's entry for a claim only planted runs check (their planted units' names)
OWN_CLAIM = "a control's own claim"
#: the planted signals of null twins (the others are positive controls)
NULL_SIGNALS = ("null", "utterance_null", "concept_null", "layerwise_null")
#: the twins of the SAE control (saes.tsv ``twin``) and their columns on the page
SAE_TWINS = {"planted": "simulated planted dictionary (SAEs)", "null twin": "simulated null twin (SAEs)"}
#: the findings claim each simulated power row belongs to
POWER_CLAIMS = {
    "gender": "Gender neurons are most numerous at the bottom and top layers",
    "pitch": "Pitch neurons are most numerous at the bottom and top layers",
    OVERLAP: OVERLAP_CLAIM,
    # the dissection agreement claim (findings.power_dissection)
    "agreement-gender": "Descriptions agree with the property-neuron groups on held-out items above shuffled labels "
    "(gender)",
    "agreement-pitch": "Descriptions agree with the property-neuron groups on held-out items above shuffled labels "
    "(pitch)",
}


def planted_runs(layout, corpus: str, model: str, configured: Mapping[str, Mapping]) -> list[dict]:
    """The planted models whose base is ``model``: those of the config (``configured``: name ->
    its planted section) and those a run of another config left in the same results folder
    (found by their planted.json). Each: name, signal, findings (the path of its findings.tsv)."""
    runs = {
        name: {"name": name, "signal": section["signal"], "findings": layout.findings_table(corpus, name)}
        for name, section in configured.items()
        if section.get("base") == model
    }
    for meta in sorted(glob.glob(str(Path(layout.planted_model(corpus, "*")) / "planted.json"))):
        name = Path(meta).parent.parent.name
        try:
            doc = json.loads(Path(meta).read_text())
        except (OSError, ValueError):
            continue
        if name not in runs and doc.get("base") == model:
            signal = doc.get("settings", {}).get("signal", "property")
            runs[name] = {"name": name, "signal": signal, "findings": layout.findings_table(corpus, name)}
    return sorted(runs.values(), key=lambda r: (r["signal"] in NULL_SIGNALS, r["name"]))


def _keyed(findings: pd.DataFrame) -> pd.DataFrame:
    """The findings with a key per row: (study, claim, k-th row of that claim)."""
    out = findings.copy()
    out["k"] = out.groupby(["study", "claim"], sort=False).cumcount()
    return out.set_index(["study", "claim", "k"])


def power_text(power: pd.DataFrame | None, claim: str) -> str:
    """The simulated power of a claim at the largest simulated corpus: 'effect 0: 0.05 (false
    positives), 0.5: ...'; '' when the claim has none."""
    if power is None or not len(power):
        return ""
    prop = next((p for p, c in POWER_CLAIMS.items() if c == claim), None)
    rows = power[power["property"] == prop] if prop else power.iloc[:0]
    if not len(rows):
        return ""
    n = int(rows["n_utterances"].max())
    rows = rows[rows["n_utterances"] == n].sort_values("effect")
    parts = [
        f"{e:g}: {p:.2f}" + (" (false positives)" if e == 0 else "") for e, p in zip(rows["effect"], rows["power"])
    ]
    return (
        f"share holding over {int(rows['seeds'].iloc[0])} simulated runs of {n} utterances, by planted effect (SD) "
        + ", ".join(parts)
    )


def simulated_verdict(control: pd.DataFrame | None, claim: str, twin: str) -> str:
    """The verdict of ``claim`` on one twin of the SAE control (its saes.tsv: ``twin, claim,
    verdict, value``...), as 'holds (value)'; '' when the control does not check the claim."""
    if control is None or not len(control):
        return ""
    rows = control[(control["claim"] == claim) & (control["twin"] == twin)]
    if not len(rows):
        return ""
    r = rows.iloc[0]
    return f"{r['verdict']} ({float(r['value']):.3g})" if pd.notna(r["value"]) else str(r["verdict"])


def _scored_otherwise(own: pd.DataFrame, other: pd.DataFrame, key) -> str:
    """' (SID on single frames)' when a planted run scored a claim's speaker identification on
    single frames and this model did not (probes.sid_unit differs between the two configs)."""
    if "measure" not in other or key not in own.index or "measure" not in own:
        return ""
    theirs, ours = str(other["measure"][key]), str(own["measure"][key])
    return " (SID on single frames)" if SINGLE_FRAMES in theirs and SINGLE_FRAMES not in ours else ""


def control_table(
    findings: pd.DataFrame,
    runs: Sequence[dict],
    tables: Mapping[str, pd.DataFrame],
    power: pd.DataFrame | None,
    sae_control: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per claim of ``findings``: this run's verdict, then one column per planted run
    (its verdict on the same claim, or ABSENT when its findings.tsv is not there: ``tables``
    maps a run's name to its findings), then the simulated power, then the verdicts of the SAE
    control on its planted dictionary and on its null twin (``sae_control``: its saes.tsv). Claims
    only planted runs check (whether their planted concept units are named,
    findings.planted_concepts) follow, with OWN_CLAIM as this run's verdict."""
    own = _keyed(findings)
    verdicts = own["verdict"].tolist()
    # the claims of a control itself (the planted concept units' names): only planted runs have them
    extra = [key for t in tables.values() for key in _keyed(t).index if key not in own.index]
    extra = list(dict.fromkeys(extra))
    index = list(own.index) + extra
    out = pd.DataFrame(
        {
            "study": [k[0] for k in index],
            "claim": [k[1] for k in index],
            "this model": verdicts + [OWN_CLAIM] * len(extra),
        }
    )
    for run in runs:
        label = f"{'null twin' if run['signal'] in NULL_SIGNALS else 'positive control'} ({run['name']})"
        table = tables.get(run["name"])
        if table is None:
            out[label] = ABSENT
            continue
        other = _keyed(table)
        out[label] = [
            str(other["verdict"][key]) + _scored_otherwise(own, other, key)
            if key in other.index
            else "claim not checked"
            for key in index
        ]
    out["simulated power"] = [power_text(power, c) for c in out["claim"]]
    for twin, label in SAE_TWINS.items():
        out[label] = [simulated_verdict(sae_control, c, twin) for c in out["claim"]]
    return out


def control_section(
    findings: pd.DataFrame, runs: Sequence[dict], power_path: str | None, sae_control_path: str | None = None
) -> tuple[str, str, pd.DataFrame]:
    """The (heading, note, table) of the findings page's positive-control section."""
    tables = {r["name"]: pd.read_csv(r["findings"], sep="\t") for r in runs if Path(r["findings"]).exists()}
    power = pd.read_csv(power_path, sep="\t") if power_path and Path(power_path).exists() else None
    sae_control = (
        pd.read_csv(sae_control_path, sep="\t") if sae_control_path and Path(sae_control_path).exists() else None
    )
    frame = control_table(findings, runs, tables, power, sae_control)
    missing = [r["name"] for r in runs if r["name"] not in tables]
    if not runs:
        state = (
            "No planted model of this model has been run in this results folder: run configs/positive-controls.yaml "
            "with the same results_dir to add the positive control and its null twin."
        )
    elif missing:
        state = f"Planted runs without findings yet: {', '.join(missing)}."
    else:
        state = "Planted runs: " + ", ".join(r["name"] for r in runs) + "."
    if power is None:
        state += " No simulated power (positive_controls.power.enabled: false)."
    if sae_control is None:
        state += " No simulated SAE control (positive_controls.saes.enabled: false)."
    note = (
        "Per claim: this model's verdict, the verdict on the planted model (the property neurons written in by "
        "weight surgery: the Lin et al. count claims should hold there) and on its null twin (the same surgery "
        "keyed to speaker groups that are no gender: they should not), the same for the layer-wise planted model "
        "(its top layers trained to reconstruct the input of layer 1: the layer-wise claims should hold there; its "
        "null twin's top reproduces its own input), and the power of the claim on simulated "
        "runs with planted units; for the SAE claims, the verdicts on simulated activations with a planted sparse "
        "dictionary of Zipf-distributed atom frequencies and on its null twin, Gaussian activations of the same "
        "covariance (docs/positive-controls.md). A planted concept model (units keyed to stated dissection "
        "concepts) checks that they are named by them: those claims are its own and come last. " + state
    )
    for column in ["simulated power", *SAE_TWINS.values()]:
        if not frame[column].astype(bool).any():
            frame = frame.drop(columns=[column])
    return "Positive controls", note, frame
