"""The measures of one checkpoint, as tables: held-out PWCCA of every layer against every
reference view, and the experiments' linear probes on the same layers and utterances.

PWCCA: for each (layer l, view v), x = the layer view (frames for mel / frontend, segment means
for phone / word), y = the reference view, and the held-out protocol of
:mod:`~speechneurons.trajectories.cca` with the settings' parts, trials, thresholds and
weighting; segment parts are stratified by label. The same seed is used for every (layer,
view) and every checkpoint, so all of them are split into the same parts and trials.

Probes: :func:`speechneurons.probing.probes.evaluate` (frames from
:func:`~speechneurons.probing.features.probe_frames`, features from
:func:`~speechneurons.probing.features.extract_features`) on the utterances the PWCCA
measures, trained on their train split and scored on their test split, with percentile
bootstrap intervals over test utterances (:func:`speechneurons.probing.scoring.compare`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.audio import load_audio
from speechneurons.probing.probes import evaluate
from speechneurons.probing.scoring import compare

from .cca import CrossValPlan, PreparedView, crossval_plan, crossval_prepared
from .features import FRAME_VIEWS, ViewPlan, Views, choose_utterances, extract_views, plan_views
from .settings import PWCCASettings, SampleSettings

log = logging.getLogger(__name__)

#: the settings' ``weights`` -> the weighting of :func:`~speechneurons.trajectories.cca.pwcca` (x = layer).
WEIGHTS = {"smaller": "smaller", "layer": "x", "reference": "y", "mean": "mean"}
SUMMARY_COLUMNS = [
    "checkpoint",
    "layer",
    "view",
    "pwcca",
    "pwcca_std",
    "trials",
    "n_samples",
    "layer_dims",
    "view_dims",
    "max_dims",
    "train_pwcca",
    "dev_pwcca",
    "seconds",
]
TRIAL_COLUMNS = [
    "checkpoint",
    "layer",
    "view",
    "trial",
    "dev_part",
    "test_part",
    "eps_layer",
    "eps_view",
    "train_pwcca",
    "dev_pwcca",
    "test_pwcca",
    "n_directions",
    "kept_layer",
    "kept_view",
]


def measure_pwcca(
    views: Views, settings: PWCCASettings, checkpoint: str, seed: int = 0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(summary, trials) tables of the held-out PWCCA of every layer against every view (a view
    with fewer than 3 samples per part, e.g. no word reaching ``word_min_count``, is left out
    with a warning).

        summary: one row per (layer, view) with the mean test PWCCA (``pwcca``), its standard
        deviation over trials, the mean train and dev scores, the sample count and the dims;
        trials: one row per trial with the chosen thresholds and the three scores.
        Every SVD of a view's fitting parts is computed once (``PreparedView``): the reference
        views once per checkpoint, a layer's frames once for mel and frontend."""
    plans: dict[str, CrossValPlan] = {}
    refs: dict[str, PreparedView] = {}
    measured = []
    for view in settings.views:
        kind = "frames" if view in FRAME_VIEWS else view
        n, width = views.reference[view].shape
        if n < 3 * settings.parts or width == 0:
            log.warning(
                "view %s: %d samples of %d columns are too few for %d parts of at least 3; left out",
                view, n, width, settings.parts,
            )  # fmt: skip
            continue
        if kind not in plans:
            labels = None if view in FRAME_VIEWS else views.labels[view]
            try:
                plans[kind] = crossval_plan(
                    n,
                    labels=labels,
                    parts=settings.parts,
                    trials=settings.trials,
                    thresholds=settings.thresholds,
                    seed=seed,
                    units=views.units.get(kind) if views.units else None,  # whole utterances per part
                    samples_per_dim=settings.samples_per_dim,
                )
            except ValueError as exc:  # a part can fall under 3 samples
                log.warning("view %s: %s; left out", view, exc)
                continue
        refs[view] = PreparedView(views.reference[view], plans[kind])
        measured.append(view)
    rows, trial_rows = [], []
    for layer in views.layers:
        layer_views = {"frames": views.frames, "phone": views.phone_means, "word": views.word_means}
        prepared: dict[str, PreparedView] = {}
        for view in measured:
            kind = "frames" if view in FRAME_VIEWS else view
            if kind not in prepared:
                prepared[kind] = PreparedView(layer_views[kind][layer], plans[kind])
            px, py = prepared[kind], refs[view]
            start = time.perf_counter()
            res = crossval_prepared(px, py, WEIGHTS[settings.weights])
            seconds = time.perf_counter() - start
            rows.append(
                {
                    "checkpoint": checkpoint,
                    "layer": layer,
                    "view": view,
                    "pwcca": res.mean,
                    "pwcca_std": res.std,
                    "trials": len(res.trials),
                    "n_samples": res.n_samples,
                    "layer_dims": px.z.shape[1],
                    "view_dims": py.z.shape[1],
                    # the reduction to the fitting samples (trajectories.pwcca.samples_per_dim); 0 = none
                    "max_dims": min((plans[kind].max_dims(t) or 0) for t in range(len(plans[kind].pairs))),
                    "train_pwcca": float(np.nanmean([t.train_score for t in res.trials])),
                    "dev_pwcca": float(np.nanmean([t.dev_score for t in res.trials])),
                    "seconds": seconds,
                }
            )
            for i, t in enumerate(res.trials):
                trial_rows.append(
                    {
                        "checkpoint": checkpoint,
                        "layer": layer,
                        "view": view,
                        "trial": i,
                        "dev_part": t.dev_part,
                        "test_part": t.test_part,
                        "eps_layer": t.eps_x,
                        "eps_view": t.eps_y,
                        "train_pwcca": t.train_score,
                        "dev_pwcca": t.dev_score,
                        "test_pwcca": t.test_score,
                        "n_directions": t.n_directions,
                        "kept_layer": t.kept_x,
                        "kept_view": t.kept_y,
                    }
                )
            log.info(
                "%s layer %d vs %s: PWCCA %.3f +- %.3f (%d samples, %.1f s)",
                checkpoint,
                layer,
                view,
                res.mean,
                res.std,
                res.n_samples,
                seconds,
            )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS), pd.DataFrame(trial_rows, columns=TRIAL_COLUMNS)


def load_waves(manifest: pd.DataFrame, utt_ids: Sequence[str], sample_rate: int) -> dict[str, np.ndarray]:
    """utt_id -> samples of the manifest's audio_path (through ``load_audio``: loud on bad files)."""
    paths = manifest.set_index(manifest["utt_id"].astype(str))["audio_path"]
    return {u: load_audio(Path(paths[u]), sample_rate) for u in utt_ids}


def measured_utterances(
    manifest: pd.DataFrame, labels: pd.DataFrame, sample: SampleSettings, seed: int = 0
) -> tuple[str, ...]:
    """The utterances every checkpoint is measured on (PWCCA and probes): at most
    ``max_utterances`` of the configured splits among those with frame labels (seeded)."""
    labelled = manifest[manifest["utt_id"].astype(str).isin(set(labels["utt_id"].astype(str)))]
    return choose_utterances(labelled, sample.splits, sample.max_utterances, seed)


def plan_for(
    manifest: pd.DataFrame, labels: pd.DataFrame, sample: SampleSettings, pwcca: PWCCASettings, seed: int = 0
) -> ViewPlan:
    """The samples of the analysis: :func:`measured_utterances`, then frames and segments."""
    utts = measured_utterances(manifest, labels, sample, seed)
    return plan_views(
        labels,
        utts,
        max_frames=pwcca.max_frames,
        max_per_phone=pwcca.max_per_phone,
        word_vocabulary_size=pwcca.word_vocabulary,
        word_min_count=pwcca.word_min_count,
        max_per_word=pwcca.max_per_word,
        seed=seed,
    )


def pwcca_for_checkpoint(
    loaded,
    waves: Mapping[str, np.ndarray],
    plan: ViewPlan,
    sample: SampleSettings,
    pwcca: PWCCASettings,
    checkpoint: str,
    seed: int = 0,
    **forward,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Views of one loaded checkpoint on the plan, then :func:`measure_pwcca` (the rule's call);
    ``forward``: batching keywords of :func:`~speechneurons.trajectories.features.extract_views`."""
    views = extract_views(loaded, waves, plan, layers=sample.layers, views=pwcca.views, n_mels=pwcca.n_mels, **forward)
    return measure_pwcca(views, pwcca, checkpoint, seed)


PROBE_COLUMNS = ["checkpoint", "task", "metric", "layer", "value", "ci_low", "ci_high", "n_test_utts"]


def probe_checkpoint(
    loaded,
    manifest: pd.DataFrame,
    labels: pd.DataFrame,
    pitch: pd.DataFrame | None,
    utt_ids: Sequence[str],
    layers: Sequence[int],
    probe_settings,
    frame_settings,
    **extract_kwargs,
) -> pd.DataFrame:
    """Per-utterance probe losses (``task, layer, utt_id, ...``) of every task of
    ``probe_settings`` at every layer (0 = the input of layer 1), trained on the train split
    and scored on the test split of ``utt_ids``: the experiments' probes, unchanged."""
    layers = list(layers) or list(range(loaded.num_layers + 1))
    subset = manifest[manifest["utt_id"].astype(str).isin(set(map(str, utt_ids)))]
    losses, _ = evaluate(
        loaded,
        subset,
        labels,
        pitch,
        dict.fromkeys(probe_settings.tasks, layers),
        probe_settings,
        frame_settings,
        progress=False,
        **extract_kwargs,
    )
    return losses


def probe_table(losses: pd.DataFrame, checkpoint: str, resamples: int, seed: int, level: float) -> pd.DataFrame:
    """Test error of every (task, layer) with its percentile bootstrap interval over test
    utterances: phone error %, speaker and gender error %, log-F0 MSE (lower is better)."""
    if losses.empty:
        return pd.DataFrame(columns=PROBE_COLUMNS)
    table = compare(losses, None, resamples, seed, level, kind="error")
    return table.assign(checkpoint=checkpoint)[PROBE_COLUMNS]
