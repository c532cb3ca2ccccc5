"""Planted models: property neurons written into a model by weight surgery, and their null twin
(docs/positive-controls.md).

A planted model is the base model with ``units_per_group`` FFN units of each chosen layer
(default: the first and the last, the U shape of Lin et al.) replaced, group by group:

- the groups of the ``property`` signal are the groups of the property-neuron statistic: gender
  F and M (a speaker attribute), each pitch bin (voiced frames) and each phone type; those of
  the ``null`` twin are keyed to speaker identity only: the speakers are split at random, within
  each gender, into as many groups as the property signal has, so that no group is a gender, a
  pitch bin or a phone type; those of the ``utterance_null`` twin are keyed to utterances: each
  speaker's utterances are split at random into as many groups, so that every group holds every
  speaker and the corpus's mix of genders, pitch bins and phone types (speaker groups cannot
  give the pitch mix: a group of two voices is a pitch group in effect);
- for a group g with frames m_g, on the FFN inputs x (the input of fc1, captured on the base
  model's forward pass over the frames of the activation dump): the discriminant direction
  v_g = (S_w + lambda I)^-1 (mean(x | g) - mean(x | not g)); the unit's pre-activation is
  ``gain * (v_g . x - c_g) / s_g`` with c_g the midpoint of the two means of v_g . x and s_g its
  standard deviation, so the unit is positive (GELU passes it) on the group's frames and near 0
  elsewhere (each unit of a group with its own random tenth, so that they are no copies).
  Its output column (fc2) writes ``write_scale`` times the unit-norm mean difference into the residual
  stream, so the layers above (and the probes) read the planted signal;
- at the first planted layer, ``overlap_units`` units per gender ∩ pitch group (female
  speakers in the top pitch bin, male speakers in the bottom one, each with its gender's
  unvoiced frames) take the place of the pitch-bin units: the pitch neurons there are gender
  neurons too, so that gender ∩ pitch is the largest overlap between the property sets (claim 2
  of Lin et al.); a null twin's groups stand in for the groups of each layer by position, with
  the same numbers of units;
- the replaced units are drawn at random (seeded), different for every group; layers are
  planted bottom-up, each on the inputs of the model planted below it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from speechneurons.phones import PHONE_TYPES, normalize_phone

SIGNALS = ("property", "null", "utterance_null")


@dataclass(frozen=True)
class PlantSettings:
    """Keys of a model's ``planted`` section (schemas/model.schema.yaml)."""

    signal: str
    units_per_group: int
    layers: tuple[int, ...]
    gain: float
    write_scale: float
    max_utterances: int
    overlap_units: int


def planted_layers(requested: Sequence[int], num_layers: int) -> list[int]:
    """The planted layers: ``requested``, or the first and the last."""
    layers = sorted({int(x) for x in requested}) or sorted({1, int(num_layers)})
    bad = [x for x in layers if not 1 <= x <= num_layers]
    if bad:
        raise ValueError(f"planted layers {bad} do not exist: the model has layers 1..{num_layers}")
    return layers


def _phone_type(phone: str) -> str | None:
    try:
        p = normalize_phone(phone)
    except ValueError:
        return None
    for t, members in PHONE_TYPES.items():
        if p in members:
            return t
    return None


def overlap_groups(n_pitch_bins: int) -> dict[str, tuple[str, int]]:
    """The gender ∩ pitch groups of the first planted layer: name -> (gender, pitch bin): female
    speakers and the top pitch bin, male speakers and the bottom one."""
    return {f"gender-F&pitch-{n_pitch_bins - 1}": ("F", n_pitch_bins - 1), "gender-M&pitch-0": ("M", 0)}


def layer_groups(n_pitch_bins: int, overlap: bool) -> tuple[list[str], list[str]]:
    """The property signal's groups at the first planted layer and at the others. With
    ``overlap``, the first layer has the groups of :func:`overlap_groups` (last) in place of the
    pitch bins': its pitch neurons are gender ∩ pitch units."""
    plain = ["gender-F", "gender-M", *(f"pitch-{b}" for b in range(n_pitch_bins))]
    plain += [f"phone_type-{t}" for t in PHONE_TYPES]
    if not overlap:
        return plain, plain
    return [g for g in plain if not g.startswith("pitch-")] + list(overlap_groups(n_pitch_bins)), plain


def group_masks(
    index: pd.DataFrame, signal: str, n_pitch_bins: int, seed: int, overlap: bool = False
) -> dict[str, np.ndarray]:
    """Group name -> boolean mask over the rows of ``index`` (module docstring); ``index`` has
    speaker, gender, phone and pitch_bin columns (the activation dump's index).

    ``overlap``: the property groups end with those of :func:`overlap_groups`, each the frames of
    its gender in its pitch bin plus that gender's unvoiced frames (no pitch bin): a unit on it
    is then selective for its gender on every phone and for its pitch bin on the voiced ones,
    i.e. a gender neuron and a pitch neuron at once. The null twins have as many groups as the
    larger layer of :func:`layer_groups` plants."""
    if signal not in SIGNALS:
        raise ValueError(f"planted signal must be one of {SIGNALS}, got {signal!r}")
    gender = index["gender"].astype(str).to_numpy()
    if signal == "property":
        groups = {f"gender-{g}": gender == g for g in ("F", "M")}
        pitch = pd.to_numeric(index["pitch_bin"], errors="coerce").fillna(-1).to_numpy()
        groups |= {f"pitch-{b}": pitch == b for b in range(n_pitch_bins)}
        ptype = np.array([_phone_type(p) for p in index["phone"].astype(str)], dtype=object)
        groups |= {f"phone_type-{t}": ptype == t for t in PHONE_TYPES}
        if overlap:
            overlapping = overlap_groups(n_pitch_bins).items()
            groups |= {name: (gender == g) & ((pitch == b) | (pitch < 0)) for name, (g, b) in overlapping}
        return groups
    k = max(len(names) for names in layer_groups(n_pitch_bins, overlap))
    rng = np.random.default_rng([int(seed), 7])
    speakers = index["speaker"].astype(str).to_numpy()
    if signal == "utterance_null":  # each speaker's utterances dealt at random into the groups
        code = _deal(index["utt_id"].astype(str).to_numpy(), speakers, k, rng)
        return {f"utterances-{i}": code == i for i in range(k)}
    # the null twin: speakers dealt at random into the groups within each gender (no group is a gender)
    code = _deal(speakers, gender, k, rng)
    return {f"speakers-{i}": code == i for i in range(k)}


def _deal(keys: np.ndarray, strata: np.ndarray, k: int, rng) -> np.ndarray:
    """Per row, the group (0..k-1) of its key: within each stratum the distinct keys are shuffled
    and dealt round-robin into k groups, so every row of one key falls in one group."""
    of = {}
    for stratum in np.unique(strata):
        for i, key in enumerate(rng.permutation(np.unique(keys[strata == stratum]))):
            of[key] = i % k
    return np.array([of[key] for key in keys])


def unit_directions(x: np.ndarray, masks: Mapping[str, np.ndarray], gain: float) -> dict[str, tuple]:
    """Per group: (fc1 row w [H], fc1 bias b, unit write direction u [H]) from the FFN inputs
    ``x`` [n, H] of the group's frames and the others (module docstring): the discriminant
    direction v = (S_w + lambda I)^-1 (mean(x | g) - mean(x | not g)), S_w the pooled
    within-class covariance, lambda a tenth of its mean eigenvalue. A group with no frame or
    no other frame gets nothing."""
    x = np.asarray(x, dtype=np.float64)
    out = {}
    for g, m in masks.items():
        m = np.asarray(m, dtype=bool)
        if not m.any() or m.all():
            continue
        diff = x[m].mean(axis=0) - x[~m].mean(axis=0)
        within = np.concatenate([x[m] - x[m].mean(axis=0), x[~m] - x[~m].mean(axis=0)])
        cov = within.T @ within / len(x)
        v = np.linalg.solve(cov + 0.1 * (np.trace(cov) / len(cov) or 1.0) * np.eye(len(cov)), diff)
        p = x @ v
        centre = (p[m].mean() + p[~m].mean()) / 2
        scale = p.std() or 1.0
        w = gain * v / scale
        out[g] = (w, -gain * centre / scale, diff / (np.linalg.norm(diff) or 1.0))
    return out


def choose_units(
    width: int, groups: Sequence[str], units_per_group: int | Mapping[str, int], rng
) -> dict[str, list[int]]:
    """Distinct units per group (``units_per_group``: one count for all, or per group), drawn at
    random from the layer's ``width`` units."""
    sizes = [units_per_group[g] if isinstance(units_per_group, Mapping) else units_per_group for g in groups]
    need = sum(sizes)
    if need > width:
        raise ValueError(f"{need} planted units do not fit in a layer of {width} units")
    drawn = rng.choice(width, need, replace=False)
    ends = np.cumsum(sizes)
    return {
        g: sorted(int(u) for u in drawn[end - size : end]) for g, size, end in zip(groups, sizes, ends, strict=True)
    }


@torch.no_grad()
def plant_layer_(
    site, directions: Mapping[str, tuple], units: Mapping[str, list[int]], write_scale: float, rng
) -> None:
    """Overwrite the chosen units of one FFN site (in place). The units of one group share the
    group's direction, each with its own random part (a tenth of its norm) so that they are no
    copies: with few activated units per frame (top tau), copies would tie and only the lowest
    index would ever be activated."""
    W1, b1, W2 = site.fc1.weight, site.fc1.bias, site.fc2.weight
    for g, (w, b, u) in directions.items():
        for j in units[g]:
            r = rng.standard_normal(len(w))
            w_j = w + 0.1 * np.linalg.norm(w) * r / np.linalg.norm(r)
            W1[j] = torch.as_tensor(w_j, dtype=W1.dtype)
            if b1 is not None:
                b1[j] = float(b)
            W2[:, j] = torch.as_tensor(write_scale * u, dtype=W2.dtype)


def capture_inputs(loaded, waves: Sequence[np.ndarray], frames: Sequence[np.ndarray], layer: int) -> np.ndarray:
    """The input of layer ``layer``'s fc1 at the given frames of each utterance, [sum frames, H]
    (one utterance at a time, the layers above not run)."""
    from speechneurons.model.ffn import ffn_sites
    from speechneurons.model.forward import encode, front_end, pad

    site = ffn_sites(loaded.model)[layer - 1]
    seen: list[torch.Tensor] = []
    handle = site.fc1.register_forward_pre_hook(lambda module, args: seen.append(args[0].detach()))
    rows = []
    try:
        with torch.inference_mode():
            for wave, fr in zip(waves, frames, strict=True):
                seen.clear()
                encode(loaded, pad([0], [front_end(loaded, wave)]), upto=layer)
                x = seen[-1][0]
                fr = np.asarray(fr, dtype=np.int64)
                fr = fr[fr < x.shape[0]]
                rows.append(x[torch.from_numpy(fr).to(x.device)].float().cpu().numpy())
    finally:
        handle.remove()
    return np.concatenate(rows) if rows else np.zeros((0, site.fc1.in_features), np.float32)


def plant_model_(loaded, waves, index: pd.DataFrame, settings: PlantSettings, n_pitch_bins: int, seed: int) -> dict:
    """Plant ``settings.signal`` into ``loaded.model`` (in place) from the frames of ``index``
    (rows: utt_id, frame, speaker, gender, phone, pitch_bin; ``waves``: utt_id -> waveform).
    Returns what was planted: layer -> group -> units."""
    from speechneurons.model.ffn import ffn_sites

    utts = list(dict.fromkeys(index["utt_id"].astype(str)))
    by_utt = dict(list(index.groupby(index["utt_id"].astype(str), sort=False)))
    ordered = pd.concat([by_utt[u] for u in utts], ignore_index=True)
    overlap = settings.overlap_units > 0
    masks = group_masks(ordered, settings.signal, n_pitch_bins, seed, overlap=overlap)
    # per layer, the property signal's groups (layer_groups) and their sizes; a null twin's
    # groups stand in for them by position, with the same sizes
    overlapping = set(overlap_groups(n_pitch_bins))
    plan = []
    for names in layer_groups(n_pitch_bins, overlap):
        sizes = [settings.overlap_units if g in overlapping else settings.units_per_group for g in names]
        own = names if settings.signal == "property" else list(masks)[: len(names)]
        plan.append(dict(zip(own, sizes, strict=True)))
    sites = ffn_sites(loaded.model)
    rng = np.random.default_rng([int(seed), 11])
    planted: dict = {}
    for i, layer in enumerate(planted_layers(settings.layers, len(sites))):
        x = capture_inputs(loaded, [waves[u] for u in utts], [by_utt[u]["frame"].to_numpy() for u in utts], layer)
        if len(x) != len(ordered):
            raise ValueError(
                f"{len(ordered)} index frames but {len(x)} model frames: the dump does not match the model"
            )
        sizes = plan[0] if i == 0 else plan[1]
        directions = unit_directions(x, {g: masks[g] for g in sizes}, settings.gain)
        units = choose_units(sites[layer - 1].width, list(directions), sizes, rng)
        plant_layer_(sites[layer - 1], directions, units, settings.write_scale, rng)
        planted[layer] = units
    return planted
