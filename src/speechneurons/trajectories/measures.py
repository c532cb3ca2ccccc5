"""Held-out PWCCA of every layer of one checkpoint against every reference view, as tables.

For each (layer l, view v): x = the layer view (frames for mel / cnn, segment means for phone /
word), y = the reference view, and the held-out protocol of :mod:`~speechneurons.trajectories.cca`
with the settings' parts, trials, thresholds and weighting; segment parts are stratified by
label. The same seed is used for every (layer, view) and every checkpoint, so all of them
are split into the same parts and trials.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from speechneurons.audio import load_audio

from .cca import CrossValPlan, PreparedView, crossval_plan, crossval_prepared
from .features import FRAME_VIEWS, ViewPlan, Views, choose_utterances, extract_views, plan_views
from .settings import PWCCASettings, TrajectoriesSettings

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
    """(summary, trials) tables of the held-out PWCCA of every layer against every view.

    summary: one row per (layer, view) with the mean test PWCCA (``pwcca``), its standard
    deviation over trials, the mean train and dev scores, the sample count and the dims;
    trials: one row per trial with the chosen thresholds and the three scores.
    Every SVD of a view's fitting parts is computed once (``PreparedView``): the reference
    views once per checkpoint, a layer's frames once for mel and cnn."""
    plans: dict[str, CrossValPlan] = {}
    refs: dict[str, PreparedView] = {}
    for view in settings.views:
        kind = "frames" if view in FRAME_VIEWS else view
        if kind not in plans:
            n = len(views.reference[view])
            labels = None if view in FRAME_VIEWS else views.labels[view]
            plans[kind] = crossval_plan(
                n,
                labels=labels,
                parts=settings.parts,
                trials=settings.trials,
                thresholds=settings.thresholds,
                seed=seed,
            )
        refs[view] = PreparedView(views.reference[view], plans[kind])
    rows, trial_rows = [], []
    for layer in views.layers:
        layer_views = {"frames": views.frames, "phone": views.phone_means, "word": views.word_means}
        prepared: dict[str, PreparedView] = {}
        for view in settings.views:
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


def plan_for(manifest: pd.DataFrame, labels: pd.DataFrame, settings: TrajectoriesSettings, seed: int = 0) -> ViewPlan:
    """The samples of the analysis: utterances of the configured splits, then frames and segments."""
    p = settings.pwcca
    utts = choose_utterances(manifest, settings.splits, settings.max_utterances, seed)
    return plan_views(
        labels,
        utts,
        max_frames=p.max_frames,
        max_per_phone=p.max_per_phone,
        word_vocabulary_size=p.word_vocabulary,
        word_min_count=p.word_min_count,
        max_per_word=p.max_per_word,
        seed=seed,
    )


def pwcca_for_checkpoint(
    loaded,
    waves: Mapping[str, np.ndarray],
    plan: ViewPlan,
    settings: TrajectoriesSettings,
    checkpoint: str,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Views of one loaded checkpoint on the plan, then :func:`measure_pwcca` (the rule's call)."""
    views = extract_views(
        loaded, waves, plan, layers=settings.layers, views=settings.pwcca.views, n_mels=settings.pwcca.n_mels
    )
    return measure_pwcca(views, settings.pwcca, checkpoint, seed)
