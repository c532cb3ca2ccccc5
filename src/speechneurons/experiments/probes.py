"""Frozen-feature probes, scored on held-out utterances with bootstrap confidence intervals.

Features are the hidden states of chosen transformer layers (layer L = output of layer L,
``hidden_states[L]`` of a Hugging Face model), from one forward pass per utterance.
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

Frame-level sets are subsampled (seeded) to at most ``max_frames_train`` / ``max_frames_test``
rows per task before the forward passes, so memory is bounded whatever the corpus size and
every model variant is scored on exactly the same test items.

Losses are kept per test utterance (sum and count, per stratum: phone type for ``phone``,
pitch bin for ``f0``). A metric over a set U of utterances is the ratio
m(U) = sum_u loss_u / sum_u n_u. Its percentile bootstrap CI resamples the utterances of U
with replacement B times (seeded); a difference between two variants resamples the same
utterances for both (paired bootstrap).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import torch

from speechneurons.phones import PHONE_TO_TYPE, is_speech_phone

log = logging.getLogger(__name__)

TASKS = ("phone", "sid", "gender", "f0")
FRAME_TASKS = ("phone", "f0")
#: display metric of each task in the pruning table (rates in percent).
METRICS = {"phone": "phone_error_pct", "sid": "sid_accuracy_pct", "gender": "gender_accuracy_pct", "f0": "log_f0_mse"}
#: error metric of each task (the erasure table reports errors).
ERRORS = {"phone": "phone_error_pct", "sid": "sid_error_pct", "gender": "gender_error_pct", "f0": "log_f0_mse"}


@dataclass(frozen=True)
class ProbeSettings:
    """Probe hyper-parameters (the ``experiments`` config section)."""

    tasks: tuple[str, ...] = TASKS
    max_frames_train: int = 10000
    max_frames_test: int = 5000
    C: float = 1.0
    ridge_alpha: float = 1.0
    max_iter: int = 300
    seed: int = 0
    classifier: str = "ridge"


# --------------------------------------------------------------------------- frame selection


def probe_frames(
    manifest: pd.DataFrame, labels: pd.DataFrame, pitch: pd.DataFrame | None, settings: ProbeSettings
) -> pd.DataFrame:
    """The frames the frame-level probes use: ``utt_id, frame, split, speaker, gender, phone,
    phone_type, f0_hz, pitch_bin, use_phone, use_f0``; at most the configured number per task
    and split, sampled with a seeded generator (the same rows for every model variant)."""
    utts = manifest[manifest["split"].isin(["train", "test"])][["utt_id", "split", "speaker", "gender"]]
    df = labels[["utt_id", "frame", "phone"]].merge(utts, on="utt_id", how="inner")
    if pitch is not None:
        df = df.merge(pitch[["utt_id", "frame", "f0_hz", "voiced", "pitch_bin"]], on=["utt_id", "frame"], how="left")
    else:
        df = df.assign(f0_hz=np.nan, voiced=False, pitch_bin=-1)
    df["voiced"] = df["voiced"].fillna(False).astype(bool)
    df["pitch_bin"] = df["pitch_bin"].fillna(-1).astype(int)
    df["phone_type"] = df["phone"].map(PHONE_TO_TYPE).fillna("none")
    eligible = {
        "phone": df["phone"].map(is_speech_phone).to_numpy(bool),
        "f0": (df["voiced"] & (df["f0_hz"].fillna(0) > 0)).to_numpy(bool),
    }
    df = df.reset_index(drop=True)
    for t, task in enumerate(FRAME_TASKS):
        use = np.zeros(len(df), dtype=bool)
        for s, (split, cap) in enumerate([("train", settings.max_frames_train), ("test", settings.max_frames_test)]):
            rows = np.flatnonzero(eligible[task] & (df["split"] == split).to_numpy())
            if len(rows) > cap:
                rng = np.random.default_rng([settings.seed, t, s])
                rows = np.sort(rng.choice(rows, size=cap, replace=False))
            use[rows] = True
        df[f"use_{task}"] = use
    df = df[df["use_phone"] | df["use_f0"]].drop(columns="voiced")
    return df.sort_values(["utt_id", "frame"]).reset_index(drop=True)


# --------------------------------------------------------------------------- features


@dataclass
class Features:
    """Hidden states of the chosen layers: frames (rows of ``frames``) and utterance means."""

    frames: pd.DataFrame
    utts: pd.DataFrame
    frame_feats: dict[int, np.ndarray] = field(default_factory=dict)
    utt_feats: dict[int, np.ndarray] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)


def hf_hidden_states(model, wav: np.ndarray, device, normalize: bool = False) -> tuple[torch.Tensor, ...]:
    """All hidden states ([T, H] each; index L = output of layer L) of a Hugging Face model;
    ``normalize``: zero-mean unit-variance input (models whose feature extractor expects it)."""
    wav = np.asarray(wav, dtype=np.float32)
    if normalize:
        from speechneurons.model.registry import normalize_wave

        wav = normalize_wave(wav)
    x = torch.from_numpy(np.ascontiguousarray(wav))[None].to(device)
    out = model(x, output_hidden_states=True)
    return tuple(h[0] for h in out.hidden_states)


@torch.no_grad()
def extract_features(
    model,
    manifest: pd.DataFrame,
    frames: pd.DataFrame,
    layers: Iterable[int],
    device="cpu",
    load_audio: Callable[[str], np.ndarray] | None = None,
    hidden_states: Callable = hf_hidden_states,
    normalize: bool = False,
    on_bad_input: str = "error",
) -> Features:
    """One forward pass per train/test utterance; keep the selected frames and the mean over
    all frames of each utterance, for every layer in ``layers`` (stored float16).

    An unusable audio file raises BadInputError, or with ``on_bad_input='skip'`` the utterance
    is left out and listed in ``Features.skipped`` (utt_id, path, reason)."""
    from speechneurons.errors import BadInputError

    if load_audio is None:
        from speechneurons.audio import load_audio
    layers = sorted(set(int(layer) for layer in layers))
    utts = manifest[manifest["split"].isin(["train", "test"])].sort_values("utt_id").reset_index(drop=True)
    by_utt = {u: g for u, g in frames.groupby("utt_id", sort=False)}
    frame_parts = {layer: [] for layer in layers}
    utt_feats = {layer: [] for layer in layers}
    kept_rows, kept_utts, skipped = [], [], []
    model.eval()
    for i, row in enumerate(utts.itertuples(index=False)):
        try:
            wav = load_audio(row.audio_path)
            if len(wav) == 0 or (hasattr(model, "config") and _too_short(model, len(wav))):
                raise BadInputError(row.audio_path, "audio shorter than one model frame", "Remove it from the corpus (or set on_bad_input: skip)")
        except BadInputError as exc:
            if on_bad_input != "skip":
                raise
            log.warning("skipped %s: %s", row.utt_id, exc)
            skipped.append({"utt_id": row.utt_id, "path": str(row.audio_path), "reason": exc.problem})
            continue
        kept_utts.append(i)
        hs = hidden_states(model, wav, device, normalize)
        if max(layers) >= len(hs):
            raise ValueError(f"layer {max(layers)} requested but the model has {len(hs) - 1} layers")
        sel = by_utt.get(row.utt_id)
        n_frames = hs[0].shape[0]
        if sel is not None:
            ok = sel["frame"].to_numpy() < n_frames
            if not ok.all():
                log.warning("%s: %d labelled frames beyond the model's %d frames dropped", row.utt_id, (~ok).sum(), n_frames)
            sel = sel[ok]
            kept_rows.append(sel.index.to_numpy())
            idx = torch.as_tensor(sel["frame"].to_numpy(np.int64).copy(), device=hs[0].device)
        for layer in layers:
            h = hs[layer].float()
            utt_feats[layer].append(h.mean(dim=0).cpu().numpy())
            if sel is not None:
                frame_parts[layer].append(h.index_select(0, idx).cpu().numpy().astype(np.float16))
        if (i + 1) % 50 == 0:
            log.info("features: %d/%d utterances", i + 1, len(utts))
    rows = np.concatenate(kept_rows) if kept_rows else np.zeros(0, np.int64)
    feats = Features(frames=frames.loc[rows].reset_index(drop=True), utts=utts.iloc[kept_utts].reset_index(drop=True), skipped=skipped)
    for layer in layers:
        dim = utt_feats[layer][0].shape[0] if utt_feats[layer] else 0
        feats.frame_feats[layer] = np.concatenate(frame_parts[layer]) if frame_parts[layer] else np.zeros((0, dim), np.float16)
        feats.utt_feats[layer] = np.stack(utt_feats[layer]) if utt_feats[layer] else np.zeros((0, dim))
    return feats


def _too_short(model, n_samples: int) -> bool:
    from speechneurons.frames import num_frames

    cfg = model.config
    return num_frames(n_samples, cfg.conv_kernel, cfg.conv_stride) == 0


# --------------------------------------------------------------------------- probes


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
    clf = LogisticRegression(C=settings.C, max_iter=settings.max_iter, random_state=settings.seed)
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
    g = df.groupby(["utt_id", "speaker", "gender", "stratum"], as_index=False).agg(loss_sum=("loss", "sum"), n_items=("loss", "size"))
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
        for layer in sorted(set(int(x) for x in layers)):
            if task in FRAME_TASKS:
                use = fr[f"use_{task}"].to_numpy(bool)
                tr = use & (fr["split"] == "train").to_numpy()
                te = use & (fr["split"] == "test").to_numpy()
                x = feats.frame_feats[layer]
                if tr.sum() < 2 or te.sum() == 0:
                    log.warning("%s probe, layer %d: too few frames (train %d, test %d); skipped", task, layer, tr.sum(), te.sum())
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
            log.info("%s probe, layer %d: test error %.4f", task, layer, out[-1]["loss_sum"].sum() / out[-1]["n_items"].sum())
    cols = ["task", "layer", "utt_id", "speaker", "gender", "stratum", "loss_sum", "n_items"]
    return pd.concat(out, ignore_index=True)[cols] if out else pd.DataFrame(columns=cols)


# --------------------------------------------------------------------------- layers


def best_layers(losses: pd.DataFrame) -> dict[str, int]:
    """Per task, the layer with the lowest test error (the earliest layer on ties)."""
    err = losses.groupby(["task", "layer"])[["loss_sum", "n_items"]].sum()
    err = (err["loss_sum"] / err["n_items"]).reset_index(name="error").sort_values(["task", "error", "layer"])
    return {task: int(g["layer"].iloc[0]) for task, g in err.groupby("task")}


def resolve_layers(spec: Iterable, n_layers: int, best: Mapping[str, int], tasks: Iterable[str]) -> dict[str, dict[int, str]]:
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


# --------------------------------------------------------------------------- bootstrap


def _resample_index(n: int, n_boot: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(n_boot, n))


def bootstrap_ratio(sums, counts, n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> tuple[float, float, float]:
    """Point estimate sum(sums)/sum(counts) and its percentile bootstrap CI over units."""
    sums, counts = np.asarray(sums, float), np.asarray(counts, float)
    if len(sums) == 0 or counts.sum() == 0:
        return (np.nan, np.nan, np.nan)
    point = sums.sum() / counts.sum()
    if n_boot <= 0:
        return (point, np.nan, np.nan)
    idx = _resample_index(len(sums), n_boot, seed)
    boot = sums[idx].sum(axis=1) / np.maximum(counts[idx].sum(axis=1), 1e-12)
    a = (1 - level) / 2
    return (float(point), float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a)))


def bootstrap_delta(a_sums, a_counts, b_sums, b_counts, n_boot: int = 1000, seed: int = 0, level: float = 0.95):
    """m_a - m_b for two variants scored on the same (aligned) units, paired percentile CI."""
    arrays = [np.asarray(v, float) for v in (a_sums, a_counts, b_sums, b_counts)]
    a_s, a_c, b_s, b_c = arrays
    if len(a_s) == 0 or a_c.sum() == 0 or b_c.sum() == 0:
        return (np.nan, np.nan, np.nan)
    point = a_s.sum() / a_c.sum() - b_s.sum() / b_c.sum()
    if n_boot <= 0:
        return (point, np.nan, np.nan)
    idx = _resample_index(len(a_s), n_boot, seed)
    boot = a_s[idx].sum(1) / np.maximum(a_c[idx].sum(1), 1e-12) - b_s[idx].sum(1) / np.maximum(b_c[idx].sum(1), 1e-12)
    a = (1 - level) / 2
    return (float(point), float(np.quantile(boot, a)), float(np.quantile(boot, 1 - a)))


def eval_groups(losses: pd.DataFrame, task: str) -> list[tuple[str, pd.Series]]:
    """Named subsets of a task's loss rows: all, per gender, per stratum (phone type / pitch bin)."""
    groups = [("all", pd.Series(True, index=losses.index))]
    for g in sorted(losses["gender"].astype(str).unique()):
        groups.append((f"gender={g}", losses["gender"].astype(str) == g))
    if task in FRAME_TASKS:
        for s in sorted(losses["stratum"].astype(str).unique()):
            groups.append((f"{'phone_type' if task == 'phone' else 'pitch_bin'}={s}", losses["stratum"].astype(str) == s))
    return groups


def _per_unit(losses: pd.DataFrame) -> pd.DataFrame:
    return losses.groupby("utt_id")[["loss_sum", "n_items"]].sum()


def to_metric(task: str, error: float, kind: str = "display") -> float:
    """Error (mean loss) -> the table metric: percent for rates, accuracy = 100 - error % for
    sid/gender in the display metric; F0 stays an MSE."""
    if task == "f0":
        return error
    pct = 100.0 * error
    return 100.0 - pct if kind == "display" and task in ("sid", "gender") else pct


def compare(
    variant: pd.DataFrame,
    base: pd.DataFrame | None,
    n_boot: int = 1000,
    seed: int = 0,
    level: float = 0.95,
    kind: str = "display",
    groups: str = "all",
) -> pd.DataFrame:
    """Metric with CI of ``variant`` per (task, layer, eval group), and its paired difference
    to ``base`` (same task and layer) with CI. ``kind`` 'display' (METRICS) or 'error'
    (ERRORS); ``groups`` 'all' or 'every' (also per gender and stratum)."""
    rows = []
    for (task, layer), v in variant.groupby(["task", "layer"]):
        b = None if base is None else base[(base["task"] == task) & (base["layer"] == layer)]
        subsets = eval_groups(v, task) if groups == "every" else [("all", pd.Series(True, index=v.index))]
        for name, mask in subsets:
            pv = _per_unit(v[mask])
            m, lo, hi = bootstrap_ratio(pv["loss_sum"], pv["n_items"], n_boot, seed, level)
            conv = [to_metric(task, x, kind) for x in (m, lo, hi)]
            if conv[1] > conv[2]:
                conv[1], conv[2] = conv[2], conv[1]
            row = {
                "task": task,
                "metric": (METRICS if kind == "display" else ERRORS)[task],
                "layer": int(layer),
                "eval_group": name,
                "value": conv[0],
                "ci_low": conv[1],
                "ci_high": conv[2],
                "n_test_utts": len(pv),
            }
            if b is not None and len(b):
                bmask = _group_mask(b, task, name)
                pb = _per_unit(b[bmask])
                common = pv.index.intersection(pb.index)
                pa_, pb_ = pv.loc[common], pb.loc[common]
                d, dlo, dhi = bootstrap_delta(pa_["loss_sum"], pa_["n_items"], pb_["loss_sum"], pb_["n_items"], n_boot, seed, level)
                sign = -1.0 if (kind == "display" and task in ("sid", "gender")) else 1.0
                scale = 1.0 if task == "f0" else 100.0
                dd = sorted([sign * scale * dlo, sign * scale * dhi])
                pbm = bootstrap_ratio(pb_["loss_sum"], pb_["n_items"], 0)[0]
                row.update(baseline=to_metric(task, pbm, kind), delta=sign * scale * d + 0.0, delta_ci_low=dd[0] + 0.0, delta_ci_high=dd[1] + 0.0)
            rows.append(row)
    return pd.DataFrame(rows)


def _group_mask(losses: pd.DataFrame, task: str, name: str) -> pd.Series:
    for n, mask in eval_groups(losses, task):
        if n == name:
            return mask
    return pd.Series(False, index=losses.index)


# --------------------------------------------------------------------------- convenience


def evaluate(
    model,
    manifest: pd.DataFrame,
    labels: pd.DataFrame,
    pitch: pd.DataFrame | None,
    layers_by_task: Mapping[str, Iterable[int]],
    settings: ProbeSettings,
    device="cpu",
    **extract_kwargs,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Select frames, extract features of every needed layer in one pass, run the probes.
    Returns the per-utterance losses and the skipped utterances (utt_id, path, reason)."""
    frames = probe_frames(manifest, labels, pitch, settings)
    layers = sorted({int(x) for t, ls in layers_by_task.items() if t in settings.tasks for x in ls})
    feats = extract_features(model, manifest, frames, layers, device, **extract_kwargs)
    return run_probes(feats, layers_by_task, settings), pd.DataFrame(feats.skipped, columns=["utt_id", "path", "reason"])


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
