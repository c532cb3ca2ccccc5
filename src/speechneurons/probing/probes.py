"""Frozen-feature probes, scored on held-out utterances (features: :mod:`.features`;
intervals: :mod:`.stats`).

Four probes (scikit-learn, standardized features), trained on the ``train`` split and scored
on the ``test`` split of the manifest:

Classifiers are linear: ``ridge`` (default; least squares on one-hot targets with an L2
penalty, closed form, fast on a 2-core CPU) or ``logistic`` (multinomial logistic regression,
lbfgs; minutes per phone probe on a CPU).

- ``phone``: a linear classifier on frames whose label is one of the 39 speech phones;
  loss = 1[predicted phone != phone]  -> phone error rate;
- ``sid``: a linear classifier on utterance means (mean over all frames of the utterance) or,
  with ``sid_unit: frame``, on single speech frames (the phone probe's frames);
  loss = 1[predicted speaker != speaker] per utterance or frame (only test items of speakers
  seen in training);
- ``gender``: the same on utterance means with the speaker's gender;
- ``f0``: ridge regression of log F0 on voiced frames; loss = (predicted - log F0)^2 -> MSE.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechneurons.probing.features import (
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
    probed is :class:`~speechneurons.probing.features.FrameSettings`."""

    tasks: tuple[str, ...]
    sid_unit: str
    classifier: str
    gender_folds: int
    validation_fraction: float
    logistic_C: float
    logistic_max_iter: int
    ridge_alpha: float
    seed: int


def standardize(train: np.ndarray, *others: np.ndarray) -> list[np.ndarray]:
    """``train`` and every array of ``others`` standardized with the training mean and sd
    (sd below 1e-8 counts as 1)."""
    mu = train.mean(axis=0)
    sd = train.std(axis=0)
    sd[sd < 1e-8] = 1.0
    return [(x - mu) / sd for x in (train, *others)]


def fit_classifier(x: np.ndarray, y: np.ndarray, settings: ProbeSettings):
    """The ``probes`` section's linear classifier (``ridge``: least squares on one-hot targets,
    or ``logistic``: multinomial, lbfgs, seeded) fitted on standardized features ``x``."""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, RidgeClassifier

    if settings.classifier == "ridge":
        clf = RidgeClassifier(alpha=settings.ridge_alpha)
    elif settings.classifier == "logistic":
        clf = LogisticRegression(C=settings.logistic_C, max_iter=settings.logistic_max_iter, random_state=settings.seed)
    else:
        raise ValueError(f"unknown probe classifier {settings.classifier!r}: use ridge or logistic")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return clf.fit(x, y)


def _classify(xtr, ytr, xte, settings: ProbeSettings) -> np.ndarray:
    classes = np.unique(ytr)
    if len(classes) < 2:
        return np.full(len(xte), classes[0] if len(classes) else None, dtype=object)
    xtr, xte = standardize(xtr, xte)
    return fit_classifier(xtr, ytr, settings).predict(xte)


def _regress(xtr, ytr, xte, settings: ProbeSettings) -> np.ndarray:
    from sklearn.linear_model import Ridge

    xtr, xte = standardize(xtr, xte)
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


def speaker_folds(utts: pd.DataFrame, n_folds: int, seed: int) -> np.ndarray:
    """A fold (0..k-1) per utterance such that each fold holds whole speakers and both genders
    wherever possible: each gender's speakers are shuffled (seeded) and dealt round-robin into
    k = min(n_folds, speakers of the smaller gender) folds (at least 2)."""
    spk_gender = utts.groupby("speaker")["gender"].first()
    by_gender = [sorted(spk_gender.index[spk_gender == g]) for g in sorted(spk_gender.unique())]
    k = max(2, min([n_folds] + [len(s) for s in by_gender if len(s)]))
    rng = np.random.default_rng(seed)
    fold_of = {}
    for speakers in by_gender:
        for i, spk in enumerate(rng.permutation(speakers)):
            fold_of[spk] = i % k
    return utts["speaker"].map(fold_of).to_numpy(np.int64)


def run_probes(
    feats: Features,
    layers_by_task: Mapping[str, Iterable[int]],
    settings: ProbeSettings,
) -> pd.DataFrame:
    """Train each task's probe at each of its layers; per-utterance test losses:
    ``task, layer, utt_id, speaker, gender, stratum, loss_sum, n_items``.

    phone, f0 and sid train on the train split and score the test split (sid only on speakers
    seen in training). gender is scored on speakers the probe never saw: the speakers are dealt
    into ``gender_folds`` folds of whole speakers (both genders in each, :func:`speaker_folds`);
    the probe of a fold trains on the train-split utterances of the other folds' speakers and
    scores the test-split utterances of the fold's speakers.
    """
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
                    log.warning("%s probe, layer %d: too few frames (train %d, test %d); skipped", task, layer,
                                tr.sum(), te.sum())  # fmt: skip
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
            elif task == "sid":
                items, x, y, tr, te = sid_items(feats, layer, settings.sid_unit)
                if len(np.unique(y[tr])) < 2 or te.sum() == 0:
                    log.warning("sid probe, layer %d: needs two speakers in train and test items; skipped", layer)
                    continue
                loss = _classify(x[tr].astype(np.float64), y[tr], x[te].astype(np.float64), settings) != y[te]
                out.append(_per_utt(task, layer, items[te], loss.astype(float), "all"))
            else:
                part = _gender_across_speakers(feats.utt_feats[layer].astype(np.float64), ut, settings)
                if part is None:
                    log.warning("gender probe, layer %d: needs both genders among the other folds' speakers; skipped",
                                layer)  # fmt: skip
                    continue
                out.append(_per_utt(task, layer, *part))
            log.info(
                "%s probe, layer %d: test error %.4f", task, layer, out[-1]["loss_sum"].sum() / out[-1]["n_items"].sum()
            )
    cols = ["task", "layer", "utt_id", "speaker", "gender", "stratum", "loss_sum", "n_items"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


def sid_items(feats: Features, layer: int, unit: str, seen=None):
    """The items of the speaker-ID probe at ``layer``: (their table, features, speakers, train
    mask, test mask). ``unit`` 'utterance': the utterance means; 'frame': the phone probe's
    frames (speech frames, its train and test subsamples). Test items are those of speakers
    seen in training: ``seen``, the speakers a probe was trained on, or by default those of the
    train items of ``feats``."""
    if unit == "frame":
        items, x = feats.frames, feats.frame_feats[layer]
        use = items["use_phone"].to_numpy(bool)
    elif unit == "utterance":
        items, x = feats.utts, feats.utt_feats[layer]
        use = np.ones(len(items), dtype=bool)
    else:
        raise ValueError(f"unknown sid_unit {unit!r}: use utterance or frame")
    y = items["speaker"].astype(str).to_numpy()
    tr = use & (items["split"] == "train").to_numpy()
    te = use & (items["split"] == "test").to_numpy() & np.isin(y, y[tr] if seen is None else np.asarray(seen))
    return items, x, y, tr, te


def _gender_across_speakers(x: np.ndarray, ut: pd.DataFrame, settings: ProbeSettings):
    """Test losses of the gender probe on unseen speakers (see :func:`run_probes`): (rows of
    ``ut``, loss, stratum), or None when some fold has a single gender among its training speakers."""
    folds = speaker_folds(ut, settings.gender_folds, settings.seed)
    y = ut["gender"].astype(str).to_numpy()
    train, test = (ut["split"] == "train").to_numpy(), (ut["split"] == "test").to_numpy()
    rows, losses = [], []
    for k in np.unique(folds):
        tr, te = train & (folds != k), test & (folds == k)
        if te.sum() == 0:
            continue
        if len(np.unique(y[tr])) < 2:
            return None
        rows.append(np.flatnonzero(te))
        losses.append((_classify(x[tr], y[tr], x[te], settings) != y[te]).astype(float))
    if not rows:
        return None
    order = np.concatenate(rows)
    return ut.iloc[order], np.concatenate(losses), "all"


def validation_features(feats: Features, fraction: float, seed: int) -> Features:
    """The same features with the train split cut in two (seeded, by utterance, within each
    speaker): ``train`` keeps 1 - fraction of each speaker's train utterances, and the rest
    become ``test``; the real test split is left out. Probes run on it to choose a layer
    without ever seeing a test utterance."""
    train = feats.utts[feats.utts["split"] == "train"]
    rng = np.random.default_rng(seed)
    val = set()
    for _, group in train.groupby("speaker", sort=True):
        ids = sorted(group["utt_id"])
        n = int(round(fraction * len(ids))) if len(ids) > 1 else 0
        val.update(rng.permutation(ids)[:n].tolist())
    keep_u = (feats.utts["split"] == "train").to_numpy()
    keep_f = (feats.frames["split"] == "train").to_numpy()
    utts = feats.utts[keep_u].copy()
    frames = feats.frames[keep_f].copy()
    utts["split"] = np.where(utts["utt_id"].isin(val), "test", "train")
    frames["split"] = np.where(frames["utt_id"].isin(val), "test", "train")
    return Features(
        frames.reset_index(drop=True),
        utts.reset_index(drop=True),
        {layer: a[keep_f] for layer, a in feats.frame_feats.items()},
        {layer: a[keep_u] for layer, a in feats.utt_feats.items()},
        feats.skipped,
    )


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
