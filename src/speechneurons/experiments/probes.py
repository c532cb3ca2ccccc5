"""Frozen-feature probes, scored on held-out utterances (features: :mod:`.features`;
intervals: :mod:`.stats`).

Four probes (scikit-learn, standardized features), trained on the ``train`` split and scored
on the ``test`` split of the manifest:

Classifiers are linear: ``ridge`` (default; least squares on one-hot targets with an L2
penalty, closed form, fast on a 2-core CPU) or ``logistic`` (multinomial logistic regression,
lbfgs; minutes per phone probe on a CPU).

- ``phone``: a linear classifier on frames whose label is one of the 39 speech phones;
  loss = 1[predicted phone != phone]  -> phone error rate;
- ``sid``: a linear classifier on utterance means (mean over all frames of the utterance);
  loss = 1[predicted speaker != speaker] (only test utterances of speakers seen in training);
- ``gender``: the same on utterance means with the speaker's gender;
- ``f0``: ridge regression of log F0 on voiced frames; loss = (predicted - log F0)^2 -> MSE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechneurons.experiments.features import (
    FRAME_TASKS,
    SKIPPED_COLUMNS,
    Features,
    FrameSettings,
    extract_features,
    probe_frames,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeSettings:
    """Probe hyper-parameters: keys of the ``probes`` config section (schemas/probes.schema.yaml
    has their meanings and defaults), plus the seed of the logistic solver. Which frames are
    probed is :class:`~speechneurons.experiments.features.FrameSettings`."""

    tasks: tuple[str, ...]
    classifier: str
    logistic_C: float
    logistic_max_iter: int
    ridge_alpha: float
    seed: int


def _standardize(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return (train - mu) / sd, (test - mu) / sd


def _classify(xtr, ytr, xte, settings: ProbeSettings) -> np.ndarray:
    from sklearn.linear_model import LogisticRegression

    classes = np.unique(ytr)
    if len(classes) < 2:
        return np.full(len(xte), classes[0] if len(classes) else None, dtype=object)
    xtr, xte = _standardize(xtr, xte)
    if settings.classifier == "ridge":
        from sklearn.linear_model import RidgeClassifier

        return RidgeClassifier(alpha=settings.ridge_alpha).fit(xtr, ytr).predict(xte)
    if settings.classifier != "logistic":
        raise ValueError(f"unknown probe classifier {settings.classifier!r}: use ridge or logistic")
    clf = LogisticRegression(C=settings.logistic_C, max_iter=settings.logistic_max_iter, random_state=settings.seed)
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(xtr, ytr)
    return clf.predict(xte)


def _regress(xtr, ytr, xte, settings: ProbeSettings) -> np.ndarray:
    from sklearn.linear_model import Ridge

    xtr, xte = _standardize(xtr, xte)
    return Ridge(alpha=settings.ridge_alpha).fit(xtr, ytr).predict(xte)


def _per_utt(task: str, layer: int, meta: pd.DataFrame, loss: np.ndarray, stratum) -> pd.DataFrame:
    df = meta[["utt_id", "speaker", "gender"]].copy()
    df["stratum"] = stratum
    df["loss"] = loss.astype(np.float64)
    g = df.groupby(["utt_id", "speaker", "gender", "stratum"], as_index=False).agg(
        loss_sum=("loss", "sum"), n_items=("loss", "size")
    )
    g.insert(0, "layer", layer)
    g.insert(0, "task", task)
    return g


def run_probes(feats: Features, layers_by_task: Mapping[str, Iterable[int]], settings: ProbeSettings) -> pd.DataFrame:
    """Train each task's probe at each of its layers; per-utterance test losses:
    ``task, layer, utt_id, speaker, gender, stratum, loss_sum, n_items``."""
    out = []
    fr, ut = feats.frames, feats.utts
    for task, layers in layers_by_task.items():
        if task not in settings.tasks:
            continue
        for layer in sorted({int(x) for x in layers}):
            if task in FRAME_TASKS:
                use = fr[f"use_{task}"].to_numpy(bool)
                tr = use & (fr["split"] == "train").to_numpy()
                te = use & (fr["split"] == "test").to_numpy()
                x = feats.frame_feats[layer]
                if tr.sum() < 2 or te.sum() == 0:
                    log.warning(
                        "%s probe, layer %d: too few frames (train %d, test %d); skipped",
                        task,
                        layer,
                        tr.sum(),
                        te.sum(),
                    )
                    continue
                xtr, xte = x[tr].astype(np.float64), x[te].astype(np.float64)
                if task == "phone":
                    pred = _classify(xtr, fr["phone"].to_numpy()[tr], xte, settings)
                    loss = (pred != fr["phone"].to_numpy()[te]).astype(float)
                    stratum = fr["phone_type"].to_numpy()[te]
                else:
                    f0 = fr["f0_hz"].fillna(0).to_numpy(np.float64)
                    y = np.log(np.where(f0 > 0, f0, 1.0))  # only voiced rows (f0 > 0) are used
                    loss = (_regress(xtr, y[tr], xte, settings) - y[te]) ** 2
                    stratum = fr["pitch_bin"].astype(str).to_numpy()[te]
                out.append(_per_utt(task, layer, fr[te], loss, stratum))
            else:
                x = feats.utt_feats[layer].astype(np.float64)
                tr = (ut["split"] == "train").to_numpy().copy()
                te = (ut["split"] == "test").to_numpy().copy()
                target = "speaker" if task == "sid" else "gender"
                y = ut[target].astype(str).to_numpy()
                if task == "sid":
                    te &= np.isin(y, y[tr])
                if len(np.unique(y[tr])) < 2 or te.sum() == 0:
                    log.warning("%s probe, layer %d: needs two classes in train and test items; skipped", task, layer)
                    continue
                loss = (_classify(x[tr], y[tr], x[te], settings) != y[te]).astype(float)
                out.append(_per_utt(task, layer, ut[te], loss, "all"))
            log.info(
                "%s probe, layer %d: test error %.4f", task, layer, out[-1]["loss_sum"].sum() / out[-1]["n_items"].sum()
            )
    cols = ["task", "layer", "utt_id", "speaker", "gender", "stratum", "loss_sum", "n_items"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def best_layers(losses: pd.DataFrame) -> dict[str, int]:
    """Per task, the layer with the lowest test error (the earliest layer on ties)."""
    err = losses.groupby(["task", "layer"])[["loss_sum", "n_items"]].sum()
    err = (err["loss_sum"] / err["n_items"]).reset_index(name="error").sort_values(["task", "error", "layer"])
    return {task: int(g["layer"].iloc[0]) for task, g in err.groupby("task")}


def resolve_layers(
    spec: Iterable, n_layers: int, best: Mapping[str, int], tasks: Iterable[str]
) -> dict[str, dict[int, str]]:
    """Per task, layer -> role ('last', 'best', 'fixed', joined by '+') from the config's
    ``probe_layers`` (items 'last', 'best' or a 1-based layer number)."""
    out = {}
    for task in tasks:
        roles: dict[int, list[str]] = {}
        for item in spec:
            if item == "last":
                layer, role = n_layers, "last"
            elif item == "best":
                if task not in best:
                    continue
                layer, role = int(best[task]), "best"
            else:
                layer, role = int(item), "fixed"
            if not 1 <= layer <= n_layers:
                raise ValueError(f"probe layer {layer} outside 1..{n_layers}")
            roles.setdefault(layer, []).append(role)
        out[task] = {layer: "+".join(r) for layer, r in sorted(roles.items())}
    return out


def evaluate(
    loaded,
    manifest: pd.DataFrame,
    labels: pd.DataFrame,
    pitch: pd.DataFrame | None,
    layers_by_task: Mapping[str, Iterable[int]],
    settings: ProbeSettings,
    frame_settings: FrameSettings,
    **extract_kwargs,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Probes of one model in one go: select frames, extract every needed layer, run the probes.
    Returns the per-utterance losses and the skipped utterances (utt_id, path, reason)."""
    frames = probe_frames(manifest, labels, pitch, frame_settings)
    layers = sorted({int(x) for t, ls in layers_by_task.items() if t in settings.tasks for x in ls})
    feats = extract_features(loaded, manifest, frames, layers, **extract_kwargs)["model"]
    return run_probes(feats, layers_by_task, settings), pd.DataFrame(feats.skipped, columns=SKIPPED_COLUMNS)


def select_layers(losses: pd.DataFrame, roles: Mapping[str, Mapping[int, str]]) -> pd.DataFrame:
    """The loss rows of each task at its chosen layers (see :func:`resolve_layers`)."""
    keep = pd.Series(False, index=losses.index)
    for task, layer_roles in roles.items():
        keep |= (losses["task"] == task) & losses["layer"].isin([int(x) for x in layer_roles])
    return losses[keep]


def add_roles(table: pd.DataFrame, roles: Mapping[str, Mapping[int, str]]) -> pd.DataFrame:
    """Insert a ``layer_role`` column after ``layer`` ('last', 'best', ...)."""
    table = table.copy()
    role = [roles.get(t, {}).get(int(l), "") for t, l in zip(table["task"], table["layer"])]
    table.insert(table.columns.get_loc("layer") + 1, "layer_role", role)
    return table
