"""The SAE jobs of one (layer, architecture): which rows train and which evaluate, and the
loop over budgets (train, evaluate, save)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from speechneurons.errors import BadInputError

from .evaluation import SaeEvaluation, evaluate_sae
from .sae import SparseAutoencoder
from .settings import SaeSettings
from .training import train_sae

log = logging.getLogger(__name__)


def split_rows(index: pd.DataFrame, max_eval_rows: int, path: str = "index_sample.parquet"):
    """(train rows, held-out rows, utterance code of each held-out row) of a dump index: the
    rows of train and test utterances; at most ``max_eval_rows`` held-out rows, evenly spread
    over the test rows in dump order (deterministic). No train or no test rows is bad input."""
    if "split" not in index.columns or "utt_id" not in index.columns:
        raise BadInputError(path, "has no split or utt_id column", "rerun the activation dump")
    split = index["split"].astype(str).to_numpy()
    train, test = np.flatnonzero(split == "train"), np.flatnonzero(split == "test")
    if len(train) < 2 or len(test) == 0:
        raise BadInputError(
            path,
            f"has {len(train)} train and {len(test)} test rows; the SAEs need both",
            "dump more frames (activations.sample_frames) or check the corpus split",
        )
    if len(test) > max_eval_rows:
        test = test[np.unique(np.linspace(0, len(test) - 1, max_eval_rows).round().astype(int))]
    _, codes = np.unique(index["utt_id"].astype(str).to_numpy()[test], return_inverse=True)
    return train, test, codes.astype(np.int64)


def train_budgets(
    x_train: np.ndarray,
    x_held: np.ndarray,
    groups: np.ndarray,
    settings: SaeSettings,
    ks: Sequence[int],
    device,
    seed: int,
):
    """Train and evaluate one SAE per budget (``settings`` with k replaced; the same seed, so
    every budget and architecture of a layer starts from the same decoder directions).
    Returns ({k: SAE}, {k: evaluation}, training log with a ``k`` column)."""
    saes: dict[int, SparseAutoencoder] = {}
    evaluations: dict[int, SaeEvaluation] = {}
    logs = []
    for k in ks:
        sae, train_log = train_sae(x_train, replace(settings, k=int(k)), device=device, seed=seed, x_held=x_held)
        ev = evaluate_sae(sae, x_held, groups=groups)
        log.info(
            "%s k=%d: held-out FVU %.4f, mean L0 %.1f (5-95 %%: %g-%g), dead %.1f %%, Zipf slope %.2f",
            settings.architecture,
            k,
            ev.fvu,
            ev.l0_mean,
            ev.l0_quantiles[0.05],
            ev.l0_quantiles[0.95],
            100 * ev.dead_share,
            ev.zipf.slope,
        )
        saes[int(k)], evaluations[int(k)] = sae, ev
        logs.append(train_log.assign(k=int(k)))
    return saes, evaluations, pd.concat(logs, ignore_index=True)
