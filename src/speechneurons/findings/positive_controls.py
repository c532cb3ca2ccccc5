"""The positive controls beside a run's own verdicts (docs/positive-controls.md).

For every claim of the findings page: the verdict of the planted model (the claim true by
construction: it should hold) and of its null twin (the same construction keyed to a nuisance:
it should not), read from their own findings.tsv when those runs exist in the same results
folder (configs/positive-controls.yaml writes them), and for the claims whose power was
simulated, the share of simulated runs that hold at each planted effect (power.tsv). A reader
sees whether a "not measurable here" on the model is the model's or the workflow's.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

ABSENT = "no run"
#: the findings claim each simulated power row belongs to
POWER_CLAIMS = {
    "gender": "Gender neurons are most numerous at the bottom and top layers",
    "pitch": "Pitch neurons are most numerous at the bottom and top layers",
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
    return sorted(runs.values(), key=lambda r: (is_null(r["signal"]), r["name"]))


def is_null(signal: str) -> bool:
    """Whether a planted signal is a null twin ('null', 'layerwise-null', ...), not a positive control."""
    return signal == "null" or signal.endswith("-null")


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


def control_table(
    findings: pd.DataFrame, runs: Sequence[dict], tables: Mapping[str, pd.DataFrame], power: pd.DataFrame | None
) -> pd.DataFrame:
    """One row per claim of ``findings``: this run's verdict, then one column per planted run
    (its verdict on the same claim, or ABSENT when its findings.tsv is not there: ``tables``
    maps a run's name to its findings), then the simulated power."""
    own = _keyed(findings)
    out = pd.DataFrame(
        {
            "study": own.index.get_level_values(0),
            "claim": own.index.get_level_values(1),
            "this model": own["verdict"].to_numpy(),
        }
    )
    for run in runs:
        label = f"{'null twin' if is_null(run['signal']) else 'positive control'} ({run['name']})"
        table = tables.get(run["name"])
        if table is None:
            out[label] = ABSENT
            continue
        other = _keyed(table)["verdict"]
        out[label] = [other.get(key, "claim not checked") for key in own.index]
    out["simulated power"] = [power_text(power, c) for c in out["claim"]]
    return out


def control_section(
    findings: pd.DataFrame, runs: Sequence[dict], power_path: str | None
) -> tuple[str, str, pd.DataFrame]:
    """The (heading, note, table) of the findings page's positive-control section."""
    tables = {r["name"]: pd.read_csv(r["findings"], sep="\t") for r in runs if Path(r["findings"]).exists()}
    power = pd.read_csv(power_path, sep="\t") if power_path and Path(power_path).exists() else None
    frame = control_table(findings, runs, tables, power)
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
    note = (
        "Per claim: this model's verdict, the verdict on the planted model (the property neurons written in by "
        "weight surgery: the Lin et al. count claims should hold there) and on its null twin (the same surgery "
        "keyed to speaker groups that are no gender: they should not), the same for the layer-wise planted model "
        "(its top layer trained to reconstruct the input of layer 1: the layer-wise claims should hold there; its "
        "null twin's top reproduces its own input), and the power of the claim on simulated "
        "runs with planted units (docs/positive-controls.md). " + state
    )
    if not frame["simulated power"].astype(bool).any():
        frame = frame.drop(columns=["simulated power"])
    return "Positive controls", note, frame
