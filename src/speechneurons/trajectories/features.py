"""The views compared by the layer-wise analysis, sampled in bounded memory.

Frame level (one row per sampled model frame; frame t covers [t h / sr, t h / sr + r / sr),
20 ms shift and 25 ms window for the base conv stack):
- ``mel``: Kaldi log-Mel filterbank energies (``n_mels`` bins, power spectrum, Povey window,
  pre-emphasis 0.97, no dither) with frame shift h / sr and window r / sr, so frame t of the
  filterbank is frame t of the model; the count is ``FrameGrid.num_frames`` (the last row is
  repeated or dropped when the filterbank's count differs, which it does not for the base
  stack);
- ``frontend``: the output of the model's front-end (``model.feature_extractor``, the input of
  the feature projection), one row of C channels per frame: the conv feature encoder's output,
  or the log-Mel frames of a log-Mel front-end (:mod:`speechneurons.model.melhubert`);
- layer l = ``hidden_states[l]`` of the model (0 = the input of layer 1, L = the last layer),
  as :func:`speechneurons.model.forward.encode` returns them.

Segment level (one row per sampled segment):
- a *phone segment* is a maximal run of consecutive frames of one utterance with the same
  speech phone and the same word in the frame-label table (sil / spn excluded); a *word
  segment* is a maximal run with the same non-empty word that contains a speech phone (two
  repetitions of a word with no silence between them make one segment);
- the layer view is the mean of the layer's frames over the segment, the reference view its
  one-hot label: 39 phones, or the ``word_vocabulary`` most frequent words having at least
  ``word_min_count`` segments (ties alphabetical); segments of other words are left out, as in
  the reference (which keeps its 500 most frequent words);
- at most ``max_per_phone`` / ``max_per_word`` segments per label are kept (seeded), as the
  reference caps each token.

Every random choice (utterances, frames, segments) comes from one seed and is made from the
label table before any forward pass, so every checkpoint is measured on the same samples.
Forward passes are those of :mod:`speechneurons.model.forward`, so nothing depends on batching.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch

from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from speechneurons.model.forward import encode, front_end_batches
from speechneurons.phones import PHONES, is_speech_phone

log = logging.getLogger(__name__)

FRAME_VIEWS = ("mel", "frontend")
SEGMENT_VIEWS = ("phone", "word")
SEGMENT_COLUMNS = ["utt_id", "start", "end", "label"]


# ----------------------------------------------------------------------------- log-Mel


def log_mel(wave: np.ndarray, grid: FrameGrid, n_mels: int = 80) -> np.ndarray:
    """Log-Mel energies [grid.num_frames(len(wave)), n_mels] (float32) on the model frame grid."""
    import kaldi_native_fbank as knf

    n_frames = grid.num_frames(len(wave))
    opts = knf.FbankOptions()
    opts.frame_opts.samp_freq = grid.sample_rate
    opts.frame_opts.dither = 0.0
    opts.frame_opts.snip_edges = True
    opts.frame_opts.frame_shift_ms = 1000.0 * grid.hop / grid.sample_rate
    opts.frame_opts.frame_length_ms = 1000.0 * grid.receptive_field / grid.sample_rate
    opts.mel_opts.num_bins = n_mels
    computer = knf.OnlineFbank(opts)
    computer.accept_waveform(grid.sample_rate, (np.asarray(wave, np.float32) * 32768.0).tolist())
    computer.input_finished()
    feats = np.array([computer.get_frame(i) for i in range(computer.num_frames_ready)], dtype=np.float32)
    feats = feats.reshape(-1, n_mels)
    if len(feats) >= n_frames:
        return feats[:n_frames]
    if len(feats) == 0:
        return np.zeros((n_frames, n_mels), dtype=np.float32)
    return np.concatenate([feats, np.repeat(feats[-1:], n_frames - len(feats), axis=0)])


# ----------------------------------------------------------------------------- segments


def _runs(table: pd.DataFrame, key: np.ndarray, keep: np.ndarray) -> pd.DataFrame:
    """Maximal runs of consecutive frames of one utterance with equal ``key``, among the rows
    where ``keep``: (utt_id, start, end, row) with ``end`` exclusive and ``row`` the run's first
    row of ``table`` (sorted by utt_id, frame, with a default index)."""
    utt = table["utt_id"].to_numpy()
    frame = table["frame"].to_numpy().astype(np.int64)
    new = np.ones(len(table), dtype=bool)
    if len(table):
        new[1:] = (
            (utt[1:] != utt[:-1]) | (frame[1:] != frame[:-1] + 1) | (key[1:] != key[:-1]) | (keep[1:] != keep[:-1])
        )
    first = np.flatnonzero(new)
    last = np.r_[first[1:], len(table)] - 1
    chosen = keep[first] if len(first) else np.zeros(0, dtype=bool)
    first, last = first[chosen], last[chosen]
    return pd.DataFrame({"utt_id": utt[first], "start": frame[first], "end": frame[last] + 1, "row": first})


def _sorted_labels(labels: pd.DataFrame) -> pd.DataFrame:
    missing = {"utt_id", "frame", "phone", "word"} - set(labels.columns)
    if missing:
        raise BadInputError(
            "frame labels", f"columns {sorted(missing)} are missing", "Use the frame_labels.parquet of the labels stage"
        )
    t = labels.assign(
        utt_id=labels["utt_id"].astype(str),
        phone=labels["phone"].fillna("").astype(str),
        word=labels["word"].fillna("").astype(str).str.strip().str.lower(),
    )
    return t.sort_values(["utt_id", "frame"], kind="stable").reset_index(drop=True)


def phone_segments(labels: pd.DataFrame) -> pd.DataFrame:
    """Phone segments (utt_id, start, end, label) of a frame-label table (module docstring);
    ``end`` is exclusive."""
    t = _sorted_labels(labels)
    phone = t["phone"].to_numpy()
    key = (t["phone"] + "\t" + t["word"]).to_numpy()
    keep = np.array([is_speech_phone(p) for p in phone], dtype=bool)
    runs = _runs(t, key, keep)
    return runs.assign(label=phone[runs["row"].to_numpy()])[SEGMENT_COLUMNS]


def word_segments(labels: pd.DataFrame) -> pd.DataFrame:
    """Word segments (utt_id, start, end, label) of a frame-label table (module docstring);
    words are lower-cased, ``end`` is exclusive."""
    t = _sorted_labels(labels)
    word = t["word"].to_numpy()
    runs = _runs(t, word, word != "")
    speech = np.array([is_speech_phone(p) for p in t["phone"]], dtype=bool)
    cum = np.r_[0, np.cumsum(speech)]
    first = runs["row"].to_numpy()
    has_speech = cum[first + (runs["end"] - runs["start"]).to_numpy()] - cum[first] > 0
    runs = runs.assign(label=word[first])
    return runs.loc[has_speech, SEGMENT_COLUMNS].reset_index(drop=True)


def cap_per_label(segments: pd.DataFrame, cap: int, seed: int = 0) -> pd.DataFrame:
    """At most ``cap`` segments per label, drawn without replacement (seeded); the result is
    sorted by (utt_id, start)."""
    rng = np.random.default_rng(seed)
    keep = []
    for _, idx in sorted(segments.groupby("label").indices.items()):
        keep.append(idx if len(idx) <= cap else rng.choice(idx, size=cap, replace=False))
    rows = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=int)
    return segments.iloc[rows].sort_values(["utt_id", "start"], kind="stable").reset_index(drop=True)


def word_vocabulary(segments: pd.DataFrame, size: int, min_count: int) -> tuple[str, ...]:
    """The ``size`` most frequent word labels with at least ``min_count`` segments (count
    descending, then alphabetical)."""
    counts = segments["label"].value_counts()
    counts = counts[counts >= min_count]
    order = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return tuple(w for w, _ in order[:size])


def one_hot(labels: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """[len(labels), len(vocabulary)] float32 indicator matrix; a label outside the vocabulary
    is an error."""
    col = {v: i for i, v in enumerate(vocabulary)}
    out = np.zeros((len(labels), len(vocabulary)), dtype=np.float32)
    try:
        out[np.arange(len(labels)), [col[lab] for lab in labels]] = 1.0
    except KeyError as exc:
        raise ValueError(f"label {exc.args[0]!r} is not in the vocabulary") from None
    return out


def segment_means(x: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Row s = mean of x[starts[s]:ends[s]] (prefix sums; every segment non-empty)."""
    starts, ends = np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)
    if np.any(ends <= starts) or (len(ends) and ends.max() > len(x)):
        raise ValueError("segments must be non-empty and inside the utterance")
    cum = np.concatenate([np.zeros((1, x.shape[1])), np.cumsum(x, axis=0, dtype=np.float64)])
    return ((cum[ends] - cum[starts]) / (ends - starts)[:, None]).astype(np.float32)


# ----------------------------------------------------------------------------- plan


class ViewPlan(NamedTuple):
    """What is sampled, fixed before any forward pass."""

    utt_ids: tuple[str, ...]
    """Utterances forwarded, sorted (the order of every sample table below)."""
    frames: pd.DataFrame
    """(utt_id, frame): the frame-level samples, sorted."""
    phone_segments: pd.DataFrame
    """(utt_id, start, end, label): the phone segments kept, sorted."""
    word_segments: pd.DataFrame
    """(utt_id, start, end, label): the word segments kept (vocabulary words), sorted."""
    words: tuple[str, ...]
    """The word vocabulary: the one-hot columns of the word view."""


def choose_utterances(
    manifest: pd.DataFrame, splits: Sequence[str], max_utterances: int, seed: int = 0
) -> tuple[str, ...]:
    """At most ``max_utterances`` utterance ids of the manifest rows in ``splits`` (seeded draw,
    returned in manifest order)."""
    rows = manifest[manifest["split"].astype(str).isin(list(splits))]
    ids = rows["utt_id"].astype(str).to_numpy()
    if len(ids) == 0:
        raise BadInputError("manifest", f"no utterance in splits {list(splits)}", "Check trajectories.splits")
    if len(ids) > max_utterances:
        pick = np.sort(np.random.default_rng(seed).choice(len(ids), size=max_utterances, replace=False))
        ids = ids[pick]
    return tuple(ids)


def plan_views(
    labels: pd.DataFrame,
    utt_ids: Sequence[str],
    *,
    max_frames: int,
    max_per_phone: int,
    word_vocabulary_size: int,
    word_min_count: int,
    max_per_word: int,
    seed: int = 0,
) -> ViewPlan:
    """Sample frames and segments of ``utt_ids`` from the frame-label table (module docstring)."""
    utt_ids = tuple(sorted(str(u) for u in utt_ids))  # the order of the sorted samples below
    table = labels[labels["utt_id"].astype(str).isin(set(utt_ids))].copy()
    table["utt_id"] = table["utt_id"].astype(str)
    absent = sorted(set(utt_ids) - set(table["utt_id"]))
    if absent:
        raise BadInputError(
            "frame labels",
            f"{len(absent)} utterances have no frame labels (e.g. {absent[:3]})",
            "Use the frame labels of the same corpus and aligner",
        )
    table = _sorted_labels(table)
    rng = np.random.default_rng(seed)
    n = len(table)
    pick = np.sort(rng.choice(n, size=min(max_frames, n), replace=False))
    frames = table.iloc[pick][["utt_id", "frame"]].reset_index(drop=True)
    phones = cap_per_label(phone_segments(table), max_per_phone, seed + 1)
    words_all = word_segments(table)
    vocab = word_vocabulary(words_all, word_vocabulary_size, word_min_count)
    words = cap_per_label(words_all[words_all["label"].isin(set(vocab))], max_per_word, seed + 2)
    log.info(
        "plan: %d utterances, %d frames, %d phone segments (%d phones), %d word segments (%d words)",
        len(utt_ids),
        len(frames),
        len(phones),
        phones["label"].nunique(),
        len(words),
        len(vocab),
    )
    return ViewPlan(utt_ids, frames, phones, words, vocab)


# ----------------------------------------------------------------------------- forward


class Views(NamedTuple):
    """Every view of one checkpoint on a plan's samples."""

    layers: tuple[int, ...]
    """Layer indices of the layer views, in order."""
    frames: dict[int, np.ndarray]
    """layer -> [F, H] hidden states at the sampled frames."""
    phone_means: dict[int, np.ndarray]
    """layer -> [S_phone, H] hidden states mean-pooled over the phone segments."""
    word_means: dict[int, np.ndarray]
    """layer -> [S_word, H] the same over the word segments."""
    reference: dict[str, np.ndarray]
    """view name -> reference matrix: mel [F, n_mels], frontend [F, C], phone [S_phone, 39],
    word [S_word, V] (only the views asked for)."""
    labels: dict[str, np.ndarray]
    """'phone' / 'word' -> the segment labels."""
    units: dict[str, np.ndarray] = {}
    """'frames' / 'phone' / 'word' -> the utterance of each sample: the CCA parts hold whole
    utterances (none when empty: parts stratified by label, the reference's split)."""


def _rows_by_utt(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(u): idx for u, idx in table.groupby("utt_id", sort=False).indices.items()}


@torch.inference_mode()
def extract_views(
    loaded,
    waves: Mapping[str, np.ndarray],
    plan: ViewPlan,
    *,
    layers: Sequence[int] = (),
    views: Sequence[str] = FRAME_VIEWS + SEGMENT_VIEWS,
    n_mels: int = 80,
    batch_seconds: float = 60.0,
    max_pad_ratio: float = 1.5,
) -> Views:
    """Forward every utterance of the plan once and gather the layer and reference views.

    ``loaded`` is a :class:`~speechneurons.model.registry.LoadedModel`; ``waves`` maps utt_id to
    its 16 kHz samples; ``layers`` empty = 0..num_layers. The forward pass is the house's
    batching-independent one (:mod:`speechneurons.model.forward`): each utterance's front-end
    alone, the transformer on padded batches of about ``batch_seconds`` of audio with the exact
    frame mask; the ``frontend`` view is that front-end output (CNN channels, or the log-Mel
    frames of a log-Mel front-end)."""
    from tqdm import tqdm

    layers = tuple(layers) or tuple(range(loaded.num_layers + 1))
    if max(layers) > loaded.num_layers or min(layers) < 0:
        raise ValueError(f"layers {layers} requested but the model has layers 0..{loaded.num_layers}")
    hidden = int(loaded.model.config.hidden_size)
    rows = {"frames": _rows_by_utt(plan.frames), "phone": _rows_by_utt(plan.phone_segments),
            "word": _rows_by_utt(plan.word_segments)}  # fmt: skip
    frame_no = plan.frames["frame"].to_numpy().astype(np.int64)
    bounds = {k: (t["start"].to_numpy().astype(np.int64), t["end"].to_numpy().astype(np.int64))
              for k, t in (("phone", plan.phone_segments), ("word", plan.word_segments))}  # fmt: skip
    n_frames_total = len(plan.frames)

    def alloc(n: int) -> dict[int, np.ndarray]:
        return {l: np.zeros((n, hidden), dtype=np.float32) for l in layers}

    out_frames, out_phone, out_word = (
        alloc(n_frames_total),
        alloc(len(plan.phone_segments)),
        alloc(len(plan.word_segments)),
    )
    mel = np.zeros((n_frames_total, n_mels), dtype=np.float32) if "mel" in views else None
    frontend: np.ndarray | None = None
    utt_ids = list(plan.utt_ids)
    wave_list = [waves[u] for u in utt_ids]
    max_frames = int(batch_seconds * loaded.grid.sample_rate / loaded.grid.hop)
    bar = tqdm(total=len(utt_ids), desc="views", unit="utt", mininterval=10)
    for batch in front_end_batches(loaded, wave_list, max_frames, max_pad_ratio):
        states = encode(loaded, batch).hidden_states
        for b, i in enumerate(batch.index):
            utt, n_frames = utt_ids[i], batch.lengths[b]
            expected = loaded.grid.num_frames(len(wave_list[i]))
            if n_frames != expected:
                raise BadInputError(
                    utt,
                    f"the model gave {n_frames} frames, the grid {expected}",
                    "Use a model whose front-end matches the frames section",
                )
            own = {l: states[l][b, :n_frames].float().cpu().numpy() for l in layers}
            r = rows["frames"].get(utt)
            if r is not None and len(r):
                f = frame_no[r]
                if f.max() >= n_frames:
                    raise BadInputError(
                        utt,
                        f"frame labels reach frame {f.max()} of {n_frames}",
                        "Recompute the frame labels on the model's frame grid",
                    )
                for l in layers:
                    out_frames[l][r] = own[l][f]
                fe = batch.features[b, :n_frames].float().cpu().numpy()
                if frontend is None:
                    frontend = np.zeros((n_frames_total, fe.shape[1]), dtype=np.float32)
                frontend[r] = fe[f]
                if mel is not None:
                    mel[r] = log_mel(wave_list[i], loaded.grid, n_mels)[f]
            for kind, target in (("phone", out_phone), ("word", out_word)):
                r = rows[kind].get(utt)
                if r is None or not len(r):
                    continue
                starts, ends = bounds[kind][0][r], bounds[kind][1][r]
                if ends.max() > n_frames:
                    raise BadInputError(
                        utt,
                        f"a segment ends at frame {ends.max()} of {n_frames}",
                        "Recompute the frame labels on the model's frame grid",
                    )
                for l in layers:
                    target[l][r] = segment_means(own[l], starts, ends)
        bar.update(len(batch.index))
    bar.close()
    reference: dict[str, np.ndarray] = {}
    if mel is not None:
        reference["mel"] = mel
    if "frontend" in views:
        reference["frontend"] = frontend if frontend is not None else np.zeros((0, 1), dtype=np.float32)
    phone_labels = plan.phone_segments["label"].astype(str).to_numpy()
    word_labels = plan.word_segments["label"].astype(str).to_numpy()
    if "phone" in views:
        reference["phone"] = one_hot(phone_labels, PHONES)
    if "word" in views:
        reference["word"] = one_hot(word_labels, plan.words)
    return Views(
        layers=layers,
        frames=out_frames,
        phone_means=out_phone,
        word_means=out_word,
        reference=reference,
        labels={"phone": phone_labels, "word": word_labels},
        units={
            "frames": plan.frames["utt_id"].astype(str).to_numpy(),
            "phone": plan.phone_segments["utt_id"].astype(str).to_numpy(),
            "word": plan.word_segments["utt_id"].astype(str).to_numpy(),
        },
    )
