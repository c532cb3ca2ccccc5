"""CTC phone fine-tuning with the top n transformer layers re-initialised (autoencoder test).

A model whose top layers drift back toward its input ("autoencoder behaviour", Vielzeuf 2024)
fine-tunes to a lower phone error rate when those layers are re-initialised first (n > 0).

- **Reset.** Encoder layers L-n+1..L (1-based; ``model.encoder.layers[L-n:]``) are
  re-initialised with the model's own ``_init_weights`` under ``torch.manual_seed(seed)``;
  every other parameter and buffer stays bitwise identical. Transformers marks loaded
  tensors ``_is_hf_initialized`` and its init functions skip such tensors, so the mark is
  cleared first (otherwise the reset would silently do nothing).
- **Model.** The front-end (the conv feature encoder, or a log-Mel front-end) is frozen: its
  output is computed once per utterance, alone (:func:`speechneurons.model.forward.front_end`),
  and cached. The feature projection, the transformer and a CTC head (a linear map from the
  last hidden state to 39 phones + blank, blank = index 0) are trained.
- **Targets.** The phone sequence of an utterance is its frame phones with consecutive
  identical phones collapsed, then sil / spn dropped.
- **Training.** AdamW (weight decay on matrices only), linear warm-up then linear decay to 0,
  gradient clipping, ``steps`` steps over seeded batches of utterances of similar length,
  padded and masked; an utterance longer than ``max_crop_s`` is cropped at a random frame
  offset and its target is the phone sequence of the crop's frames (the same rule as the
  references; a phone cut by the crop edge counts once). CTC loss averaged over target
  lengths (``zero_infinity``).
- **Scoring.** Greedy CTC decoding (argmax per frame, repeats collapsed, blanks removed);
  per test utterance the edit distance e_u (substitutions + insertions + deletions) to the
  reference and its length r_u; PER = sum_u e_u / sum_u r_u with a percentile bootstrap
  interval over utterances, and the paired difference to n = 0 on the same resamples.
- **Learning rate.** The train utterances are split (seeded, by utterance) into a fitting part
  and a dev part (``dev_fraction``). For each n, one fine-tuning per candidate rate of ``lrs``
  on the fitting part; the rate with the lowest dev PER (the first on ties) is the one whose
  test PER is reported. The test split never chooses anything.
- **Saved twin.** On request (the dissection's ``ctc_twin``) the chosen rate's fine-tuned model
  of one n is kept and saved (:func:`save_ctc_model`): the base model with ``save_pretrained``
  (safetensors) and a ``preprocessor_config.json``, so that the model registry loads it like any
  checkpoint, the CTC head beside it (``ctc_head.safetensors``) and ``ctc.json`` (n, rate, dev
  PER, seed, the model it started from). The folder is written atomically.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from speechneurons.device import resolve_device
from speechneurons.io import atomic_dir
from speechneurons.model.forward import front_end
from speechneurons.phones import PHONES, is_speech_phone
from speechneurons.probing.scoring import bootstrap_delta, bootstrap_ratio

from .settings import ResetTopSettings

log = logging.getLogger(__name__)

BLANK = 0
#: CTC output symbols: blank, then the 39 phones.
SYMBOLS = ("<blank>",) + PHONES
PHONE_INDEX = {p: i + 1 for i, p in enumerate(PHONES)}
SUMMARY_COLUMNS = [
    "n_reset",
    "per",
    "per_low",
    "per_high",
    "delta_vs_0",
    "delta_low",
    "delta_high",
    "lr",
    "dev_per",
    "final_loss",
    "steps",
    "n_train",
    "n_dev",
    "n_test",
    "seconds",
]
LR_COLUMNS = ["n_reset", "lr", "dev_per", "test_per", "final_loss", "chosen"]
#: Files of a saved fine-tuned model beside the base model's ``save_pretrained`` files.
CTC_HEAD_FILE = "ctc_head.safetensors"
CTC_META_FILE = "ctc.json"


# ----------------------------------------------------------------------------- targets and PER


def phone_sequence(frame_phones: Sequence[str]) -> list[str]:
    """Reference phones of an utterance: consecutive identical frame phones collapsed, then
    non-speech labels (sil, spn) dropped."""
    out: list[str] = []
    prev = None
    for p in frame_phones:
        if p != prev and is_speech_phone(p):
            out.append(p)
        prev = p
    return out


def frame_codes(labels: pd.DataFrame, utt_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """utt_id -> per-frame symbol [T] (int64): 1..39 for the phones, 0 for sil / spn."""
    t = labels.sort_values(["utt_id", "frame"], kind="stable")
    if utt_ids is not None:
        t = t[t["utt_id"].astype(str).isin(set(map(str, utt_ids)))]
    return {
        str(u): np.array([PHONE_INDEX.get(p, BLANK) for p in g["phone"].astype(str)], dtype=np.int64)
        for u, g in t.groupby("utt_id", sort=True)
    }


def code_sequence(codes: np.ndarray) -> np.ndarray:
    """CTC target of per-frame symbols: runs of one symbol collapsed, then the 0s (non-speech)
    dropped (the index form of :func:`phone_sequence`)."""
    codes = np.asarray(codes)
    if len(codes) == 0:
        return codes.astype(np.int64)
    runs = codes[np.r_[True, codes[1:] != codes[:-1]]]
    return runs[runs != BLANK].astype(np.int64)


def phone_targets(labels: pd.DataFrame, utt_ids: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """utt_id -> CTC target indices (1..39) of :func:`phone_sequence` of its frames."""
    return {u: code_sequence(c) for u, c in frame_codes(labels, utt_ids).items()}


def edit_distance(hyp: Sequence, ref: Sequence) -> int:
    """Levenshtein distance (unit costs) between two sequences."""
    prev = np.arange(len(ref) + 1)
    for i, h in enumerate(hyp, start=1):
        cur = np.empty_like(prev)
        cur[0] = i
        for j, r in enumerate(ref, start=1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (h != r))
        prev = cur
    return int(prev[-1])


def greedy_decode(log_probs: np.ndarray) -> list[int]:
    """Greedy CTC decoding of one utterance [T, V]: argmax per frame, repeats collapsed, blanks removed."""
    best = np.asarray(log_probs).argmax(axis=-1)
    keep = np.r_[True, best[1:] != best[:-1]] & (best != BLANK)
    return best[keep].tolist()


# ----------------------------------------------------------------------------- reset


def reset_top_layers(model, n: int, seed: int = 0) -> list[str]:
    """Re-initialise encoder layers L-n+1..L of a transformers speech model in place with its
    own ``_init_weights`` (seeded); returns the names of the parameters and buffers of those
    layers. Nothing else is touched."""
    layers = model.encoder.layers
    if not 0 <= n <= len(layers):
        raise ValueError(f"n must be between 0 and {len(layers)} layers, got {n}")
    if n == 0:
        return []
    first = len(layers) - n
    names = [name for name, _ in model.named_parameters() if _layer_of(name) is not None and _layer_of(name) >= first]
    names += [name for name, _ in model.named_buffers() if _layer_of(name) is not None and _layer_of(name) >= first]
    devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for layer in layers[first:]:
            for tensor in list(layer.parameters()) + list(layer.buffers()):
                if getattr(tensor, "_is_hf_initialized", False):
                    tensor._is_hf_initialized = False
            layer.apply(model._init_weights)
    return names


def _layer_of(name: str) -> int | None:
    parts = name.split(".")
    for a, b, c in zip(parts, parts[1:], parts[2:]):
        if a == "encoder" and b == "layers" and c.isdigit():
            return int(c)
    return None


# ----------------------------------------------------------------------------- model


class CTCPhoneModel(nn.Module):
    """A speech transformer from its feature projection on, with a linear CTC head.

    Input: the front-end output [B, T, C] (the frozen conv feature encoder or log-Mel front-end,
    computed beforehand) and a frame mask [B, T] (True = real frame); output: log-probabilities
    [B, T, 40] over blank + 39 phones."""

    def __init__(self, base: nn.Module):
        super().__init__()
        self.base = base
        self.head = nn.Linear(base.config.hidden_size, len(SYMBOLS))
        for p in base.feature_extractor.parameters():
            p.requires_grad_(False)

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.base.feature_projection(features)
        if isinstance(hidden, tuple):  # wav2vec 2.0 also returns the normalised features
            hidden = hidden[0]
        out = self.base.encoder(hidden, attention_mask=mask)
        return torch.log_softmax(self.head(out.last_hidden_state), dim=-1)


@torch.no_grad()
def front_end_features(loaded, waves: Mapping[str, np.ndarray], utt_ids: Sequence[str]) -> dict[str, torch.Tensor]:
    """utt_id -> front-end output [T, C] (float32, CPU) of one utterance alone
    (:func:`speechneurons.model.forward.front_end`: the input of the feature projection)."""
    from tqdm import tqdm

    return {
        u: front_end(loaded, waves[u]).float().cpu()
        for u in tqdm(utt_ids, desc="front-end", unit="utt", mininterval=10)
    }


def _pad(features: Sequence[torch.Tensor], device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(f) for f in features])
    batch = torch.zeros(len(features), int(lengths.max()), features[0].shape[1])
    for i, f in enumerate(features):
        batch[i, : len(f)] = f
    mask = torch.arange(batch.shape[1])[None, :] < lengths[:, None]
    return batch.to(device), mask.to(device), lengths


def length_batches(lengths: Sequence[int], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Batches of indices of similar length: sort by length with +-10 % seeded jitter, cut,
    shuffle the batches."""
    lengths = np.asarray(lengths, dtype=float)
    order = np.argsort(lengths * rng.uniform(0.9, 1.1, size=len(lengths)), kind="stable")
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def _optimizer(model: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay, no_decay = [], []
    for p in model.parameters():
        if p.requires_grad:
            (decay if p.ndim >= 2 else no_decay).append(p)
    return torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}], lr=lr
    )


def train_ctc(
    model: CTCPhoneModel,
    features: Mapping[str, torch.Tensor],
    codes: Mapping[str, np.ndarray],
    settings: ResetTopSettings,
    lr: float,
    seed: int = 0,
    device="cpu",
    frame_shift_s: float = 0.02,
) -> pd.DataFrame:
    """Fine-tune ``model`` in place with CTC at peak learning rate ``lr`` (module docstring);
    returns the log (step, loss, lr).

    ``codes`` are the per-frame symbols of :func:`frame_codes`. An utterance longer than
    ``settings.max_crop_s`` is cropped at a seeded random frame offset at each use, and its
    target is the :func:`code_sequence` of the crop's frames. Crops without a phone, or with
    fewer frames than their CTC path needs, are left out of the step."""
    from tqdm import tqdm

    device = resolve_device(str(device))
    ids = [u for u in features if u in codes and np.any(codes[u] != BLANK)]
    if not ids:
        raise ValueError("no training utterance has phone targets")
    for u in ids:
        if len(codes[u]) != len(features[u]):
            raise ValueError(f"{u}: {len(codes[u])} frame labels for {len(features[u])} frames")
    crop = max(1, round(settings.max_crop_s / frame_shift_s))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model.to(device).train()
    opt = _optimizer(model, lr, settings.weight_decay)
    warm = max(1, round(settings.warmup_fraction * settings.steps))

    def factor(step: int) -> float:
        return (step + 1) / warm if step < warm else max(0.0, (settings.steps - step) / max(1, settings.steps - warm))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    batches: list[np.ndarray] = []
    rows = []
    for step in tqdm(range(settings.steps), desc="ctc", unit="step", mininterval=10):
        if not batches:
            batches = length_batches([min(crop, len(features[u])) for u in ids], settings.batch_size, rng)
        feats, tgt = [], []
        for u in (ids[i] for i in batches.pop()):
            start = int(rng.integers(0, len(features[u]) - crop + 1)) if len(features[u]) > crop else 0
            f, target = features[u][start : start + crop], code_sequence(codes[u][start : start + crop])
            if len(target) and len(f) >= _ctc_min_frames(target):
                feats.append(f)
                tgt.append(torch.as_tensor(target))
        if not feats:
            continue
        x, mask, lengths = _pad(feats, device)
        log_probs = model(x, mask)
        loss = nn.functional.ctc_loss(
            log_probs.transpose(0, 1),
            torch.cat(tgt).to(device),
            lengths.to(device),
            torch.tensor([len(t) for t in tgt]).to(device),
            blank=BLANK,
            reduction="mean",
            zero_infinity=True,
        )
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), settings.grad_clip)
        opt.step()
        rows.append({"step": step + 1, "loss": float(loss.detach()), "lr": opt.param_groups[0]["lr"]})
        sched.step()
    model.eval()
    return pd.DataFrame(rows, columns=["step", "loss", "lr"])


def _ctc_min_frames(target: np.ndarray) -> int:
    """Frames a CTC path needs: one per label plus a blank between equal neighbours."""
    return int(len(target) + np.sum(target[1:] == target[:-1]))


def evaluate_per(
    model: CTCPhoneModel,
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, np.ndarray],
    batch_size: int = 8,
    device="cpu",
) -> pd.DataFrame:
    """Per test utterance with a reference: utt_id, edits, ref_len, hyp_len (greedy decoding)."""
    device = resolve_device(str(device))
    ids = [u for u in features if len(targets.get(u, ()))]
    order = sorted(ids, key=lambda u: len(features[u]))
    rows = []
    model.to(device).eval()
    with torch.no_grad():
        for i in range(0, len(order), batch_size):
            batch = order[i : i + batch_size]
            x, mask, lengths = _pad([features[u] for u in batch], device)
            lp = model(x, mask).float().cpu().numpy()
            for b, u in enumerate(batch):
                hyp = greedy_decode(lp[b, : int(lengths[b])])
                ref = targets[u].tolist()
                rows.append({"utt_id": u, "edits": edit_distance(hyp, ref), "ref_len": len(ref), "hyp_len": len(hyp)})
    return (
        pd.DataFrame(rows, columns=["utt_id", "edits", "ref_len", "hyp_len"])
        .sort_values("utt_id")
        .reset_index(drop=True)
    )


# ----------------------------------------------------------------------------- experiment


class ResetTopRun(NamedTuple):
    """One fine-tuning experiment with the top n layers reset (every candidate rate)."""

    n_reset: int
    """Layers re-initialised."""
    per_utterance: pd.DataFrame
    """n_reset, utt_id, edits, ref_len, hyp_len of every test utterance with a reference, for
    the rate chosen on dev."""
    train_log: pd.DataFrame
    """n_reset, lr, step, loss (every candidate rate)."""
    rates: pd.DataFrame
    """n_reset, lr, dev_per, test_per (%), final_loss, chosen: one row per candidate rate."""
    n_train: int
    """Fitting utterances."""
    n_dev: int
    """Dev utterances (they chose the rate)."""
    seconds: float
    """Wall time of the resets, the trainings and the scoring."""
    model: CTCPhoneModel | None = None
    """The chosen rate's fine-tuned model (on the CPU), when the run was asked to keep it."""


class ResetTopResult(NamedTuple):
    """The reset-top-layers experiment."""

    summary: pd.DataFrame
    """One row per n: PER (%) with its bootstrap interval, the paired difference to n = 0
    (percentage points, when 0 is among the n), the chosen rate and its dev PER, the mean loss
    of the last 10 % of steps."""
    per_utterance: pd.DataFrame
    """n_reset, utt_id, edits, ref_len, hyp_len."""
    train_log: pd.DataFrame
    """n_reset, lr, step, loss."""
    rates: pd.DataFrame
    """n_reset, lr, dev_per, test_per, final_loss, chosen."""


def select_train(train_ids: Sequence[str], settings: ResetTopSettings, seed: int = 0) -> tuple[list[str], list[str]]:
    """(fitting, dev) utterances: ``max_train_utterances`` of the train utterances (all when 0;
    seeded draw), then a seeded ``dev_fraction`` of them as the dev part (at least one of each);
    both keep the given order."""
    train_ids = list(train_ids)
    rng = np.random.default_rng(seed)
    if 0 < settings.max_train_utterances < len(train_ids):
        pick = np.sort(rng.choice(len(train_ids), settings.max_train_utterances, replace=False))
        train_ids = [train_ids[i] for i in pick]
    if len(train_ids) < 2:
        raise ValueError(f"reset-top fine-tuning needs at least 2 train utterances, got {len(train_ids)}")
    n_dev = min(len(train_ids) - 1, max(1, round(settings.dev_fraction * len(train_ids))))
    dev = set(rng.choice(len(train_ids), n_dev, replace=False).tolist())
    return [u for i, u in enumerate(train_ids) if i not in dev], [u for i, u in enumerate(train_ids) if i in dev]


def _per(per_utt: pd.DataFrame) -> float:
    return float(100 * per_utt["edits"].sum() / max(1, per_utt["ref_len"].sum()))


def run_reset_top(
    loaded,
    feats_train: Mapping[str, torch.Tensor],
    feats_dev: Mapping[str, torch.Tensor],
    feats_test: Mapping[str, torch.Tensor],
    codes: Mapping[str, np.ndarray],
    n: int,
    settings: ResetTopSettings,
    seed: int = 0,
    device="auto",
    keep_model: bool = False,
) -> ResetTopRun:
    """For every candidate rate: a fresh copy of the loaded model, its top n layers
    re-initialised, a new CTC head (the same initialisation for every n and rate), CTC
    fine-tuning on ``feats_train``, greedy decoding of ``feats_dev`` and ``feats_test``; the rate
    with the lowest dev PER is chosen (features from :func:`front_end_features`, per-frame
    symbols from :func:`frame_codes`). One such run per n can be its own job. ``keep_model``:
    the chosen rate's fine-tuned model is returned too (only the best so far is held)."""
    device = resolve_device(str(device))
    start = time.perf_counter()
    targets = {u: code_sequence(codes[u]) for u in [*feats_dev, *feats_test] if u in codes}
    logs, rates, tests, kept = [], [], [], None
    for lr in settings.lrs:
        model = copy.deepcopy(loaded.model).cpu()
        reset_top_layers(model, n, seed)
        ctc = CTCPhoneModel(model)
        torch.manual_seed(seed)
        ctc.head.reset_parameters()
        train_log = train_ctc(ctc, feats_train, codes, settings, lr, seed, device, loaded.grid.frame_shift_s)
        dev = evaluate_per(ctc, feats_dev, targets, max(1, settings.batch_size), device)
        test = evaluate_per(ctc, feats_test, targets, max(1, settings.batch_size), device)
        tail = float(train_log["loss"].iloc[-max(1, len(train_log) // 10) :].mean()) if len(train_log) else np.nan
        logs.append(train_log.assign(n_reset=n, lr=lr)[["n_reset", "lr", "step", "loss"]])
        rates.append({"n_reset": n, "lr": lr, "dev_per": _per(dev), "test_per": _per(test), "final_loss": tail})
        tests.append(test)
        log.info("reset top %d, lr %g: dev PER %.2f %%, final loss %.3f", n, lr, rates[-1]["dev_per"], tail)
        if keep_model and (kept is None or rates[-1]["dev_per"] < kept[0]):  # the first on ties, as below
            kept = (rates[-1]["dev_per"], ctc.cpu().eval())
    best = min(range(len(rates)), key=lambda i: (rates[i]["dev_per"], i))
    rates_table = pd.DataFrame(rates).assign(chosen=[i == best for i in range(len(rates))])[LR_COLUMNS]
    return ResetTopRun(
        n,
        tests[best].assign(n_reset=n)[["n_reset", "utt_id", "edits", "ref_len", "hyp_len"]],
        pd.concat(logs, ignore_index=True),
        rates_table,
        len(feats_train),
        len(feats_dev),
        time.perf_counter() - start,
        kept[1] if kept else None,
    )


def summarize_reset_top(runs: Sequence[ResetTopRun], resamples: int, seed: int, level: float) -> ResetTopResult:
    """PER per n with its percentile bootstrap interval over test utterances (ratio of sums),
    and the paired bootstrap difference to n = 0 on the same resampled utterances."""
    rows = []
    zero = next((r.per_utterance.set_index("utt_id") for r in runs if r.n_reset == 0), None)
    for r in sorted(runs, key=lambda r: r.n_reset):
        pu = r.per_utterance
        per, lo, hi = bootstrap_ratio(pu["edits"], pu["ref_len"], resamples, seed, level)
        delta = (np.nan, np.nan, np.nan)
        if zero is not None:
            other = pu.set_index("utt_id").loc[zero.index]
            delta = bootstrap_delta(
                other["edits"], other["ref_len"], zero["edits"], zero["ref_len"], resamples, seed, level
            )
        chosen = r.rates[r.rates["chosen"]].iloc[0]
        logs = r.train_log[r.train_log["lr"] == chosen["lr"]]
        rows.append(
            {
                "n_reset": r.n_reset,
                "per": 100 * per,
                "per_low": 100 * lo,
                "per_high": 100 * hi,
                "delta_vs_0": 100 * delta[0],
                "delta_low": 100 * delta[1],
                "delta_high": 100 * delta[2],
                "lr": float(chosen["lr"]),
                "dev_per": float(chosen["dev_per"]),
                "final_loss": float(chosen["final_loss"]),
                "steps": int(logs["step"].max()) if len(logs) else 0,
                "n_train": r.n_train,
                "n_dev": r.n_dev,
                "n_test": len(pu),
                "seconds": r.seconds,
            }
        )
        log.info(
            "reset top %d: PER %.2f %% [%.2f, %.2f] at lr %g", r.n_reset, 100 * per, 100 * lo, 100 * hi, chosen["lr"]
        )
    return ResetTopResult(
        pd.DataFrame(rows, columns=SUMMARY_COLUMNS),
        pd.concat([r.per_utterance for r in runs], ignore_index=True),
        pd.concat([r.train_log for r in runs], ignore_index=True),
        pd.concat([r.rates for r in runs], ignore_index=True),
    )


def reset_top_one(
    loaded,
    waves: Mapping[str, np.ndarray],
    fit_ids: Sequence[str],
    dev_ids: Sequence[str],
    test_ids: Sequence[str],
    codes: Mapping[str, np.ndarray],
    n: int,
    settings: ResetTopSettings,
    seed: int,
    device,
    keep_model: bool = False,
) -> ResetTopRun:
    """One reset-top fine-tuning (the trajectories job of one ``n``): the front-end features of
    the fitting, dev and test utterances, then :func:`run_reset_top`."""
    if not 0 <= n <= loaded.num_layers:
        raise ValueError(f"trajectories.reset_top.n_reset has {n}, but the model has {loaded.num_layers} layers")
    feats = [front_end_features(loaded, waves, ids) for ids in (fit_ids, dev_ids, test_ids)]
    return run_reset_top(loaded, *feats, codes, n, settings, seed, device, keep_model)


def save_ctc_model(run: ResetTopRun, loaded, folder: str | Path, seed: int = 0) -> None:
    """Save the fine-tuned model a run kept (``keep_model``) to ``folder``, atomically: the base
    model's ``save_pretrained`` (safetensors), a ``preprocessor_config.json`` with the loaded
    model's normalisation and sample rate (the registry loads the folder like a pretrained
    checkpoint), the CTC head (:data:`CTC_HEAD_FILE`) and what it is (:data:`CTC_META_FILE`)."""
    import json

    from safetensors.torch import save_file
    from transformers import Wav2Vec2FeatureExtractor

    if run.model is None:
        raise ValueError(f"the reset-top run of n = {run.n_reset} kept no model (run it with keep_model=True)")
    chosen = run.rates[run.rates["chosen"]].iloc[0]
    meta = {
        "n_reset": int(run.n_reset),
        "lr": float(chosen["lr"]),
        "dev_per": float(chosen["dev_per"]),
        "n_train": int(run.n_train),
        "seed": int(seed),
        # relative to the saved folder (a Hugging Face id as it is), so that the same run into
        # another results folder writes the same bytes
        "fine_tuned_from": os.path.relpath(loaded.ref, folder) if Path(loaded.ref).exists() else str(loaded.ref),
        "symbols": list(SYMBOLS),
    }
    with atomic_dir(folder) as tmp:
        run.model.base.save_pretrained(tmp, safe_serialization=True)
        Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=int(loaded.grid.sample_rate),
            padding_value=0.0,
            do_normalize=bool(loaded.do_normalize),
            return_attention_mask=False,
        ).save_pretrained(tmp)
        head = {k: v.detach().cpu().contiguous() for k, v in run.model.head.state_dict().items()}
        save_file(head, str(Path(tmp) / CTC_HEAD_FILE))
        (Path(tmp) / CTC_META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")


def reset_top_experiment(
    loaded,
    waves: Mapping[str, np.ndarray],
    train_ids: Sequence[str],
    test_ids: Sequence[str],
    codes: Mapping[str, np.ndarray],
    settings: ResetTopSettings,
    seed: int,
    device: str,
    resamples: int,
    level: float,
) -> ResetTopResult:
    """The whole reset-top experiment in memory, as the workflow runs it job by job:
    :func:`reset_top_one` for every n of ``settings.n_reset``, then :func:`summarize_reset_top`."""
    fit_ids, dev_ids = select_train(train_ids, settings, seed)
    runs = [
        reset_top_one(loaded, waves, fit_ids, dev_ids, test_ids, codes, n, settings, seed, device)
        for n in settings.n_reset
    ]
    return summarize_reset_top(runs, resamples, seed, level)
