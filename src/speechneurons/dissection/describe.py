"""A describer of every item from what the workflow knows and measures, without any model.

Each item gets discrete **attributes** (so that items can share them or not) and a one-line
**caption** built from them.

Phone items (one per phone segment, at its middle frame):

==============  =====================================================================
phone           the 39-phone ARPAbet label
phone_type      vowel / voiced_consonant / unvoiced_consonant
word            the word the segment belongs to
word_position   single / initial / medial / final in its word (see ``segments``)
prev_phone,     the neighbouring segments' phones ('sil' for silence and at the edges)
next_phone
prev_phone_type, next_phone_type: their types ('silence' for sil/spn)
speaker, gender from the dump index
pitch           the pitch group of the middle frame (pitch stage bins; none if unvoiced)
voicing         voiced when at least half of the segment's frames are voiced (pitch stage),
                else unvoiced; from the middle frame's F0 when no pitch frames are given
loudness        RMS level in dBFS over the segment's frames, 10 log10(mean x^2)
brightness      spectral centroid sum_f f P(f) / sum_f P(f) of the segment's mean power
                spectrum P (Hann-windowed frames of the model grid, 0..sr/2)
tilt            the eGeMAPS alpha ratio 10 log10(E[1-5 kHz] / E[50 Hz-1 kHz]) of P (dB; a
                steeper spectral tilt gives a lower value)
duration        frames of the segment x frame shift (ms)
==============  =====================================================================

The continuous measures (loudness, brightness, tilt, duration) are cut into ``n_bins`` bins at
the corpus quantiles of the items (tertiles for 3 bins: low / mid / high), bin = number of cut
points <= value, as the pitch stage bins F0.

Utterance items: speaker, gender, pitch (bin of the utterance's median voiced F0), loudness
(RMS over its speech segments), duration (s) and rate (speech segments per second), binned the
same way across utterances.

The measures are vectorised per utterance: one strided frame matrix, one rfft, and
``np.add.reduceat`` over the segments' frame runs.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from tqdm import tqdm

from speechneurons.audio import load_audio
from speechneurons.dissection.segments import phone_type_or_silence, segments_from_frames
from speechneurons.errors import BadInputError
from speechneurons.frames import FrameGrid
from speechneurons.io import read_json, read_table, write_json, write_table
from speechneurons.phones import PHONE_TO_TYPE
from speechneurons.stats import equal_count_bins, equal_count_edges

log = logging.getLogger(__name__)

N_FFT = 512
ALPHA_LOW_HZ = (50.0, 1000.0)
ALPHA_HIGH_HZ = (1000.0, 5000.0)
EPS = 1e-12

PHONE_ATTRIBUTES = (
    "phone",
    "phone_type",
    "word",
    "word_position",
    "prev_phone",
    "next_phone",
    "prev_phone_type",
    "next_phone_type",
    "speaker",
    "gender",
    "pitch",
    "voicing",
    "loudness",
    "brightness",
    "tilt",
    "duration",
)

UTTERANCE_ATTRIBUTES = ("speaker", "gender", "pitch", "loudness", "duration", "rate")
BINNED = ("loudness", "brightness", "tilt", "duration", "rate")


def bin_labels(n_bins: int) -> tuple[str, ...]:
    """Names of n quantile bins, lowest first."""
    names = {
        2: ("low", "high"),
        3: ("low", "mid", "high"),
        4: ("low", "mid-low", "mid-high", "high"),
        5: ("lowest", "low", "mid", "high", "highest"),
    }
    if n_bins not in names:
        raise ValueError(f"n_bins must lie in 2..5, got {n_bins}")
    return names[n_bins]


class Binned(NamedTuple):
    """Values cut into quantile bins."""

    labels: np.ndarray
    """[N] object: bin name of each value (None for NaN)."""
    edges: np.ndarray
    """[n_bins - 1] float64: the cut points (quantiles j / n_bins of the finite values)."""


def quantile_bins(values: np.ndarray, n_bins: int) -> Binned:
    """bin(v) = number of cut points <= v, cut points = quantiles 1/n .. (n-1)/n of finite values."""
    v = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(v)
    names = np.array(bin_labels(n_bins), dtype=object)
    labels = np.full(len(v), None, dtype=object)
    if not finite.any():
        return Binned(labels, np.full(n_bins - 1, np.nan))
    edges = equal_count_edges(v[finite], n_bins)
    labels[finite] = names[equal_count_bins(v[finite], edges)]
    return Binned(labels, edges)


def pitch_labels(pitch_bin: np.ndarray, n_pitch_bins: int) -> np.ndarray:
    """Pitch-stage bin numbers (-1 = unvoiced) as bin names (None when unvoiced)."""
    names = np.array(bin_labels(n_pitch_bins), dtype=object)
    b = np.asarray(pitch_bin, dtype=np.int64)
    if (b >= n_pitch_bins).any():
        raise ValueError(f"pitch_bin {b.max()} is outside the {n_pitch_bins} pitch bins")
    out = np.full(len(b), None, dtype=object)
    out[b >= 0] = names[b[b >= 0]]
    return out


# --------------------------------------------------------------------------- acoustics


class SegmentAcoustics(NamedTuple):
    """Acoustic measures of segments (row-aligned with the segment table)."""

    rms_db: np.ndarray
    """[S] float64: 10 log10(mean x^2) over the samples of the segment's frame windows (dBFS)."""
    centroid_hz: np.ndarray
    """[S] float64: spectral centroid of the segment's mean power spectrum."""
    alpha_db: np.ndarray
    """[S] float64: alpha ratio 10 log10(E[1-5 kHz] / E[50 Hz-1 kHz]) of that spectrum."""


def frame_spectra(audio: np.ndarray, n_frames: int, grid: FrameGrid) -> tuple[np.ndarray, np.ndarray]:
    """Mean square [T] and Hann-windowed power spectrum [T, N_FFT/2+1] of each model frame.

    Frame t is samples [t * hop, t * hop + receptive_field) (zero-padded past the end).
    """
    hop, win = grid.hop, grid.receptive_field
    need = (n_frames - 1) * hop + win if n_frames else 0
    x = np.asarray(audio, dtype=np.float64)
    if len(x) < need:
        x = np.pad(x, (0, need - len(x)))
    frames = np.lib.stride_tricks.sliding_window_view(x[:need], win)[::hop][:n_frames]
    ms = np.mean(frames**2, axis=1)
    power = np.abs(np.fft.rfft(frames * np.hanning(win), n=max(N_FFT, win), axis=1)) ** 2
    return ms, power


def segment_acoustics(seg: pd.DataFrame, audio: np.ndarray, grid: FrameGrid) -> SegmentAcoustics:
    """Measures of the segments of ONE utterance (rows of ``seg``: first_frame, last_frame)."""
    first = seg["first_frame"].to_numpy(dtype=np.int64)
    last = seg["last_frame"].to_numpy(dtype=np.int64)
    n_frames = int(last.max()) + 1 if len(last) else 0
    ms, power = frame_spectra(audio, n_frames, grid)
    counts = (last - first + 1)[:, None]
    seg_ms = np.add.reduceat(ms, first) / counts[:, 0]
    spec = np.add.reduceat(power, first, axis=0) / counts
    freqs = np.fft.rfftfreq(max(N_FFT, grid.receptive_field), 1.0 / grid.sample_rate)
    low = (freqs >= ALPHA_LOW_HZ[0]) & (freqs < ALPHA_LOW_HZ[1])
    high = (freqs >= ALPHA_HIGH_HZ[0]) & (freqs < ALPHA_HIGH_HZ[1])
    total = spec.sum(axis=1)
    centroid = np.where(total > EPS, spec @ freqs / np.maximum(total, EPS), np.nan)
    alpha = 10 * np.log10((spec[:, high].sum(axis=1) + EPS) / (spec[:, low].sum(axis=1) + EPS))
    return SegmentAcoustics(10 * np.log10(seg_ms + EPS), centroid, alpha)


def _reduceat_ok(seg: pd.DataFrame) -> None:
    first = seg["first_frame"].to_numpy()
    last = seg["last_frame"].to_numpy()
    if len(first) and (first[0] != 0 or np.any(first[1:] != last[:-1] + 1)):
        raise ValueError("segments of an utterance must tile its frames from frame 0")


def measure_segments(
    segments: pd.DataFrame, audio_paths: Mapping[str, str | Path], grid: FrameGrid, voiced: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Add rms_db, centroid_hz, alpha_db, duration_ms (and voiced_share) to a segment table.

    ``audio_paths`` maps utt_id to its audio file. ``voiced`` (utt_id, frame, voiced), when
    given, yields voiced_share = share of the segment's frames flagged voiced.
    """
    out = segments.reset_index(drop=True).copy()
    measures = np.full((len(out), 3), np.nan)
    groups = out.groupby("utt_id", sort=False).indices
    for utt, rows in tqdm(groups.items(), desc="measuring segments", unit="utt", disable=None):
        if utt not in audio_paths:
            raise BadInputError(
                str(utt),
                "utterance has frame labels but no audio in the manifest",
                "Rebuild the frame labels and the manifest from the same corpus.",
            )
        seg = out.iloc[rows]
        _reduceat_ok(seg)
        measures[rows] = np.column_stack(segment_acoustics(seg, load_audio(audio_paths[utt], grid.sample_rate), grid))
    out["rms_db"], out["centroid_hz"], out["alpha_db"] = measures.T
    out["duration_ms"] = out["n_frames"].to_numpy() * grid.frame_shift_s * 1000.0
    if voiced is not None:
        out["voiced_share"] = _voiced_share(out, voiced)
    return out


def _voiced_share(seg: pd.DataFrame, voiced: pd.DataFrame) -> np.ndarray:
    """Share of each segment's frames flagged voiced (frames missing from ``voiced`` count unvoiced)."""
    v = voiced[["utt_id", "frame", "voiced"]]
    utt_codes = {u: i for i, u in enumerate(pd.unique(seg["utt_id"]))}
    vu = v["utt_id"].map(utt_codes)
    keep = vu.notna().to_numpy()
    max_frame = int(max(seg["last_frame"].max(), v["frame"].max())) + 2
    key = vu[keep].to_numpy(dtype=np.int64) * max_frame + v["frame"].to_numpy()[keep]
    cum = np.zeros(len(utt_codes) * max_frame + 1, dtype=np.int64)
    np.add.at(cum, key + 1, v["voiced"].to_numpy(dtype=np.int64)[keep])
    cum = np.cumsum(cum)
    su = seg["utt_id"].map(utt_codes).to_numpy(dtype=np.int64) * max_frame
    lo = su + seg["first_frame"].to_numpy()
    hi = su + seg["last_frame"].to_numpy() + 1
    return (cum[hi] - cum[lo]) / seg["n_frames"].to_numpy()


# --------------------------------------------------------------------------- item tables


class ItemTable(NamedTuple):
    """The items of one kind with their attributes, measures and captions (row i = item i)."""

    kind: str
    """'phone' or 'utterance'."""
    table: pd.DataFrame
    """item_id, utt_id, start_s, end_s, the attribute columns (str or None), the measures, caption."""
    attributes: tuple[str, ...]
    """The attribute columns of this kind."""
    edges: dict
    """Cut points of every binned measure: {attribute: [edges]}."""


def phone_items(
    index: pd.DataFrame,
    frames: pd.DataFrame,
    audio_paths: Mapping[str, str | Path],
    grid: FrameGrid,
    n_bins: int,
    n_pitch_bins: int,
    pitch_frames: pd.DataFrame | None = None,
) -> ItemTable:
    """The phone items of a ``mid`` dump index, row-aligned with it.

    ``index``: utt_id, frame, phone, speaker, gender, f0_hz, pitch_bin (one row per dump row);
    ``frames``: the frame labels (utt_id, frame, phone, word, is_mid) of the same utterances;
    ``pitch_frames``: optional (utt_id, frame, voiced) for the voicing share.
    """
    utts = pd.unique(index["utt_id"])
    fl = frames[frames["utt_id"].isin(set(utts))]
    seg = segments_from_frames(fl)
    seg = measure_segments(seg, audio_paths, grid, voiced=pitch_frames)
    speech = seg[seg["mid_frame"] >= 0]
    keyed = speech.set_index(["utt_id", "mid_frame"])
    key = pd.MultiIndex.from_arrays([index["utt_id"].astype(object), index["frame"].astype(np.int64)])
    found = key.isin(keyed.index)
    if not found.all():
        bad = index.loc[~found, ["utt_id", "frame"]].head(3).to_dict("records")
        raise BadInputError(
            "index_mid.parquet",
            f"{int((~found).sum())} dump rows are not the middle frame of a segment of the frame labels (e.g. {bad})",
            "Use the frame labels the dump was built from.",
        )
    s = keyed.reindex(key).reset_index()
    idx = index.reset_index(drop=True)
    if not (s["phone"].to_numpy() == idx["phone"].to_numpy()).all():
        raise BadInputError(
            "index_mid.parquet",
            "the dump index and the frame labels disagree on phones",
            "Use the frame labels the dump was built from.",
        )
    t = pd.DataFrame(
        {
            "item_id": idx["utt_id"].astype(str) + ":" + idx["frame"].astype(str),
            "utt_id": idx["utt_id"].astype(str),
            "frame": idx["frame"].astype(np.int64),
            "start_s": s["first_frame"].to_numpy() * grid.frame_shift_s,
            "end_s": s["last_frame"].to_numpy() * grid.frame_shift_s + grid.frame_length_s,
            "centre_s": grid.frame_centres(int(idx["frame"].max()) + 1)[idx["frame"].to_numpy()],
            "phone": idx["phone"].astype(str).to_numpy(),
        }
    )
    if "split" in idx:
        t["split"] = idx["split"].astype(str).to_numpy()
    t["phone_type"] = [PHONE_TO_TYPE.get(p) for p in t["phone"]]
    t["word"] = np.where(s["word"].to_numpy() == "", None, s["word"].to_numpy())
    t["word_position"] = np.where(s["word_position"].to_numpy() == "", None, s["word_position"].to_numpy())
    t["prev_phone"] = s["prev_phone"].to_numpy()
    t["next_phone"] = s["next_phone"].to_numpy()
    t["prev_phone_type"] = [phone_type_or_silence(p) for p in t["prev_phone"]]
    t["next_phone_type"] = [phone_type_or_silence(p) for p in t["next_phone"]]
    t["speaker"] = idx["speaker"].astype(str).to_numpy()
    t["gender"] = idx["gender"].astype(str).to_numpy()
    t["f0_hz"] = idx["f0_hz"].astype(float).to_numpy()
    t["pitch"] = pitch_labels(idx["pitch_bin"].fillna(-1).to_numpy(), n_pitch_bins)
    if "voiced_share" in s:
        t["voiced_share"] = s["voiced_share"].to_numpy()
        voiced = t["voiced_share"].to_numpy() >= 0.5
    else:
        voiced = np.isfinite(t["f0_hz"].to_numpy()) & (t["f0_hz"].to_numpy() > 0)
    t["voicing"] = np.where(voiced, "voiced", "unvoiced").astype(object)
    edges = {}
    for attr, col in (
        ("loudness", "rms_db"),
        ("brightness", "centroid_hz"),
        ("tilt", "alpha_db"),
        ("duration", "duration_ms"),
    ):
        t[col] = s[col].to_numpy()
        b = quantile_bins(t[col].to_numpy(), n_bins)
        t[attr], edges[attr] = b.labels, [float(e) for e in b.edges]
    t["caption"] = [phone_caption(r) for r in t.itertuples(index=False)]
    return ItemTable("phone", t, PHONE_ATTRIBUTES, edges)


def utterance_items(utt_ids: Sequence[str], manifest: pd.DataFrame, phones: ItemTable, n_bins: int) -> ItemTable:
    """Utterance items in the order of ``utt_ids``, measured from their phone items.

    pitch: bin of the median F0 of the utterance's voiced phone items; loudness: 10 log10 of the
    duration-weighted mean of 10^(rms_db/10) over its phone items; duration: manifest
    duration_s; rate: phone items per second.
    """
    p = phones.table
    m = manifest.set_index("utt_id")
    missing = [u for u in utt_ids if u not in m.index]
    if missing:
        raise BadInputError(
            "manifest.tsv",
            f"{len(missing)} utterances of the dump are missing (e.g. {missing[:3]})",
            "Use the manifest the dump was built from.",
        )
    f0 = p["f0_hz"].where(p["voicing"] == "voiced")
    w = p["duration_ms"].to_numpy()
    energy = pd.Series(10 ** (p["rms_db"].to_numpy() / 10) * w).groupby(p["utt_id"].to_numpy()).sum()
    weight = pd.Series(w).groupby(p["utt_id"].to_numpy()).sum()
    g = pd.DataFrame(
        {
            "median_f0_hz": f0.groupby(p["utt_id"]).median(),
            "rms_db": 10 * np.log10(energy / weight),
            "n_phones": p.groupby("utt_id").size(),
        }
    ).reindex(list(utt_ids))
    mm = m.loc[list(utt_ids)]
    t = pd.DataFrame(
        {
            "item_id": list(utt_ids),
            "utt_id": list(utt_ids),
            "start_s": 0.0,
            "end_s": mm["duration_s"].to_numpy(dtype=float),
            "centre_s": mm["duration_s"].to_numpy(dtype=float) / 2,
            "speaker": mm["speaker"].astype(str).to_numpy(),
            "gender": mm["gender"].astype(str).to_numpy(),
            "transcript": mm["transcript"].astype(str).to_numpy() if "transcript" in mm else "",
            "median_f0_hz": g["median_f0_hz"].to_numpy(),
            "rms_db": g["rms_db"].to_numpy(),
            "duration_s": mm["duration_s"].to_numpy(dtype=float),
            "rate_per_s": g["n_phones"].to_numpy(dtype=float) / mm["duration_s"].to_numpy(dtype=float),
        }
    )
    if "split" in mm:
        t["split"] = mm["split"].astype(str).to_numpy()
    edges = {}
    for attr, col in (
        ("pitch", "median_f0_hz"),
        ("loudness", "rms_db"),
        ("duration", "duration_s"),
        ("rate", "rate_per_s"),
    ):
        b = quantile_bins(t[col].to_numpy(), n_bins)
        t[attr], edges[attr] = b.labels, [float(e) for e in b.edges]
    t["caption"] = [utterance_caption(r) for r in t.itertuples(index=False)]
    return ItemTable("utterance", t, UTTERANCE_ATTRIBUTES, edges)


# --------------------------------------------------------------------------- captions

GENDER_WORDS = {"F": "female", "M": "male"}
TYPE_WORDS = {
    "vowel": "vowel",
    "voiced_consonant": "voiced consonant",
    "unvoiced_consonant": "unvoiced consonant",
    "silence": "silence",
}


def _has(x) -> bool:
    """A present attribute value (pandas may hold a missing one as None or NaN)."""
    return x is not None and x == x and x != ""


def _fmt(x: float, spec: str) -> str:
    return format(x, spec) if _has(x) and np.isfinite(x) else "n/a"


def phone_caption(r) -> str:
    """One line describing a phone item, e.g. "AA (vowel), medial in 'FATHER', after F, before DH; ..."."""
    where = f"{r.word_position} in '{r.word}'" if _has(r.word) else "outside any word"
    pitch = f"F0 {_fmt(r.f0_hz, '.0f')} Hz ({r.pitch} pitch)" if _has(r.pitch) else "no F0"
    return (
        f"{r.phone} ({TYPE_WORDS[r.phone_type]}), {where}, after {r.prev_phone}, before {r.next_phone}; "
        f"{GENDER_WORDS.get(r.gender, r.gender)} speaker {r.speaker}; {pitch}; {r.voicing}; "
        f"{_fmt(r.rms_db, '.0f')} dBFS ({r.loudness} loudness); centroid {_fmt(r.centroid_hz, '.0f')} Hz "
        f"({r.brightness}); tilt {_fmt(r.alpha_db, '.1f')} dB ({r.tilt}); {_fmt(r.duration_ms, '.0f')} ms "
        f"({r.duration} duration)"
    )


def utterance_caption(r) -> str:
    """One line describing an utterance item."""
    text = r.transcript if len(r.transcript) <= 60 else r.transcript[:57] + "..."
    return (
        f"utterance '{text}' by {GENDER_WORDS.get(r.gender, r.gender)} speaker {r.speaker}; "
        f"median F0 {_fmt(r.median_f0_hz, '.0f')} Hz ({r.pitch} pitch); {_fmt(r.rms_db, '.0f')} dBFS "
        f"({r.loudness} loudness); {_fmt(r.duration_s, '.1f')} s ({r.duration} duration); "
        f"{_fmt(r.rate_per_s, '.1f')} phones/s ({r.rate} rate)"
    )


def write_items(items: ItemTable, table: str | Path, meta: str | Path) -> None:
    """The item table as Parquet (``table``) and its kind, attributes and bin edges as JSON
    (``meta``), each written atomically."""
    write_table(items.table, table)
    write_json(meta, {"kind": items.kind, "attributes": list(items.attributes), "edges": items.edges})


def read_items(table: str | Path, meta: str | Path) -> ItemTable:
    """The item table written by :func:`write_items`."""
    info = read_json(meta)
    return ItemTable(info["kind"], read_table(table), tuple(info["attributes"]), info["edges"])
