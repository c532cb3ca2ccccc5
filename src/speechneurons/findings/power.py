"""Power of the property-neuron claims: how often the workflow says "holds" when the effect is
planted, against the planted effect size and the size of the corpus (docs/positive-controls.md).

A simulated run is a corpus and the activations of a few FFN layers on it:

- the corpus: ``n_speakers`` speakers (half F, half M), ``utterances_per_speaker`` utterances
  each of ``frames_per_utterance`` middle frames; each frame a phone (39 phones, Zipf-like
  frequencies), an F0 (speaker mean, F higher than M, plus frame noise as large as the spread
  between speakers; unvoiced consonants have none) cut into ``n_pitch_bins`` equal-count bins
  (:func:`speechneurons.pitch.groups.cut_points`); every frame is a middle frame of the train
  split;
- the activations: standard normal noise [frames, D] per layer; at the first and the last layer
  (the paper's U shape) ``units_per_group`` planted units per gender and per pitch bin whose
  activation is shifted by ``effect`` (in noise standard deviations) on the frames of their
  group, and ``overlap_units`` shifted on the frames of female speakers in the top pitch bin and
  on their unvoiced frames (each of them both a gender and a pitch unit: the gender-pitch
  overlap of claim 2); the layers between have none. ``effect`` 0 is the null twin: nothing
  planted.

Each simulated run goes through the project's own statistic
(:func:`speechneurons.properties.statistic.layer_statistic`), its nulls and bootstrap
(:func:`speechneurons.properties.nulls.null_sets`, :func:`~speechneurons.properties.nulls.bootstrap_sets`,
:func:`~speechneurons.properties.nulls.chance_columns`), the summary row of the properties stage
(:func:`speechneurons.properties.tables.summary_row`) and the findings page's claim
(:func:`speechneurons.findings.property_neurons.claim_extreme_layers` for the U shapes,
:func:`~speechneurons.findings.property_neurons.claim_gender_pitch_overlap` for the overlap, i.e.
the verdict rule of :mod:`speechneurons.findings.verdict`); nothing of the statistic is
re-implemented here. The power of a cell is the share of seeds whose verdict is "holds".
"""

from __future__ import annotations

import logging
import textwrap
from dataclasses import dataclass

import numpy as np
import pandas as pd

from speechneurons.findings.claims import FAILS, HOLDS, UNMEASURED
from speechneurons.findings.property_neurons import (
    OVERLAP,
    OVERLAP_CLAIM,
    claim_extreme_layers,
    claim_gender_pitch_overlap,
)
from speechneurons.phones import PHONE_TYPES, PHONES
from speechneurons.pitch.groups import assign_bins, cut_points
from speechneurons.properties.nulls import NullSettings, bootstrap_sets, chance_columns, null_sets
from speechneurons.properties.statistic import PropertySettings, layer_statistic
from speechneurons.properties.tables import summary_row

log = logging.getLogger(__name__)

CLAIMS = ("gender", "pitch")


@dataclass(frozen=True)
class PowerSettings:
    """Keys of the ``findings.power`` config section (schemas/findings.schema.yaml)."""

    effects: tuple[float, ...]
    utterances_per_speaker: tuple[int, ...]
    seeds: int
    n_speakers: int
    frames_per_utterance: int
    n_layers: int
    D: int
    units_per_group: int
    overlap_units: int
    null_draws: int
    count_resamples: int


def simulated_index(
    n_speakers: int, utterances_per_speaker: int, frames_per_utterance: int, n_pitch_bins: int, rng
) -> pd.DataFrame:
    """The dump index of a simulated corpus (module docstring): one row per middle frame."""
    if n_speakers < 2 or n_speakers % 2:
        raise ValueError(f"n_speakers must be even and >= 2 (half F, half M), got {n_speakers}")
    weights = 1.0 / (np.arange(len(PHONES)) + 5.0)
    weights /= weights.sum()
    unvoiced = set(PHONE_TYPES["unvoiced_consonant"])
    rows = []
    for s in range(n_speakers):
        gender = "F" if s < n_speakers // 2 else "M"
        mean = (210.0 if gender == "F" else 120.0) * float(np.exp(rng.normal(0, 0.1)))
        for u in range(utterances_per_speaker):
            phones = np.array(PHONES)[rng.choice(len(PHONES), frames_per_utterance, p=weights)]
            f0 = mean * np.exp(rng.normal(0, 0.15, frames_per_utterance))
            voiced = np.array([p not in unvoiced for p in phones])
            rows.append(
                pd.DataFrame(
                    {
                        "utt_id": f"s{s:03d}-{u:04d}",
                        "frame": np.arange(frames_per_utterance),
                        "speaker": f"s{s:03d}",
                        "gender": gender,
                        "phone": phones,
                        "is_mid": True,
                        "f0_hz": np.where(voiced, f0, np.nan),
                        "split": "train",
                    }
                )
            )
    index = pd.concat(rows, ignore_index=True)
    voiced = index["f0_hz"].notna().to_numpy()
    edges = cut_points(index.loc[voiced, "f0_hz"].to_numpy(), n_pitch_bins)
    index["pitch_bin"] = assign_bins(index["f0_hz"].to_numpy(), voiced, edges).astype(np.int64)
    return index


def planted_units(n_pitch_bins: int, units_per_group: int, overlap_units: int = 0) -> dict[tuple[str, str], list[int]]:
    """Which units are planted for which group: units 0.. in order gender F, M, pitch 0..n-1
    (``units_per_group`` each), then ``overlap_units`` for the frames of F speakers in the top
    pitch bin and their unvoiced frames (group ``(OVERLAP, "F,<top bin>")``). The unvoiced
    frames have no pitch bin, so they leave the unit a pitch unit of the top bin only; without
    them it would be selective for no unvoiced phone, too few phones for a gender unit (R_g
    counts every phone with frames in the group; docs/property-neurons.md)."""
    groups = [("gender", g) for g in ("F", "M")] + [("pitch", str(b)) for b in range(n_pitch_bins)]
    out = {key: list(range(i * units_per_group, (i + 1) * units_per_group)) for i, key in enumerate(groups)}
    if overlap_units:
        start = len(groups) * units_per_group
        out[(OVERLAP, f"F,{n_pitch_bins - 1}")] = list(range(start, start + overlap_units))
    return out


def group_rows(index: pd.DataFrame, prop: str, group: str) -> np.ndarray:
    """Rows of ``index`` in a planted group: a gender, a pitch bin, or (OVERLAP) 'gender,bin'."""
    if prop == OVERLAP:  # and the gender's unvoiced frames (no pitch bin): see planted_units
        gender, pitch_bin = group.split(",")
        hit = (index["gender"].astype(str) == gender) & index["pitch_bin"].isin([int(pitch_bin), -1])
        return np.flatnonzero(hit.to_numpy())
    col = index["gender"].astype(str) if prop == "gender" else index["pitch_bin"].astype(str)
    return np.flatnonzero(col.to_numpy() == group)


def simulated_activations(
    index: pd.DataFrame, D: int, effect: float, planted: dict[tuple[str, str], list[int]], rng
) -> np.ndarray:
    """Noise [frames, D] (float32), the planted units shifted by ``effect`` on their group's frames."""
    acts = rng.standard_normal((len(index), D), dtype=np.float32)
    if effect:
        for (prop, group), units in planted.items():
            acts[np.ix_(group_rows(index, prop, group), units)] += np.float32(effect)
    return acts


def simulated_run(
    effect: float,
    utterances_per_speaker: int,
    seed: int,
    ps: PowerSettings,
    settings: PropertySettings,
    n_pitch_bins: int,
    level: float,
) -> dict[str, str]:
    """The verdict of each claim in CLAIMS on one simulated run (module docstring)."""
    rng = np.random.default_rng([int(seed), int(utterances_per_speaker), int(round(effect * 1000))])
    index = simulated_index(ps.n_speakers, utterances_per_speaker, ps.frames_per_utterance, n_pitch_bins, rng)
    planted = planted_units(n_pitch_bins, ps.units_per_group, ps.overlap_units)
    nulls = NullSettings(null_draws=ps.null_draws, null_exact_max=0, count_resamples=ps.count_resamples)
    args = (settings.sigma, settings.min_count, n_pitch_bins)
    rows, reps = [], []
    for layer in range(1, ps.n_layers + 1):
        ends = layer in (1, ps.n_layers)
        acts = simulated_activations(index, ps.D, effect if ends else 0.0, planted, rng)
        lp, labels, top = layer_statistic(acts, index, layer, settings, n_pitch_bins, 8192, "cpu", "error", "sim")
        utt, spk = index["utt_id"].to_numpy(), index["speaker"].to_numpy()
        null = null_sets(top, labels, utt, spk, lp.property_neurons, *args, nulls, seed, settings.selection,
                         settings.fdr_q, CLAIMS)  # fmt: skip
        boot = bootstrap_sets(top, labels, utt, spk, layer, *args, nulls.count_resamples, seed, settings.selection,
                              settings.fdr_q)  # fmt: skip
        rep = pd.concat([null.sets, boot], ignore_index=True)
        row = summary_row(lp.neurons_json(), int(labels.n_used))
        rows.append(row | chance_columns(rep, row, level))
        reps.append(rep.assign(layer=layer))
    summary = pd.DataFrame(rows)
    replicates = pd.concat(reps, ignore_index=True)
    out = {p: claim_extreme_layers(p, summary, replicates, None, level).verdict for p in CLAIMS}
    out[OVERLAP] = claim_gender_pitch_overlap(summary, replicates, level).verdict
    return out


def power_table(ps: PowerSettings, settings: PropertySettings, n_pitch_bins: int, level: float) -> pd.DataFrame:
    """One row per claim x planted effect x utterances per speaker: the share of ``ps.seeds``
    simulated runs whose verdict is "holds" (``power``), with the counts of each verdict."""
    out = []
    for effect in ps.effects:
        for n_utt in ps.utterances_per_speaker:
            verdicts = [simulated_run(effect, n_utt, s, ps, settings, n_pitch_bins, level) for s in range(ps.seeds)]
            log.info(
                "effect %g, %d utterances per speaker: %s",
                effect,
                n_utt,
                pd.DataFrame(verdicts).value_counts().to_dict(),
            )
            for claim in CLAIMS:
                out.append(
                    power_row(
                        f"{claim} neurons most numerous at the bottom and top layers",
                        claim,
                        effect,
                        n_utt,
                        ps,
                        [d[claim] for d in verdicts],
                    )
                )
            out.append(power_row(OVERLAP_CLAIM, OVERLAP, effect, n_utt, ps, [d[OVERLAP] for d in verdicts]))
    return pd.DataFrame(out)


def power_row(claim: str, prop: str, effect: float, n_utt: int, ps: PowerSettings, verdicts: list[str]) -> dict:
    """One row of power.tsv: the share of the seeds' ``verdicts`` that are "holds" (``power``)
    and the count of each verdict, for one claim, planted effect and corpus size."""
    v = pd.Series(verdicts)
    return {
        "claim": claim,
        "property": prop,
        "effect": float(effect),
        "utterances_per_speaker": int(n_utt),
        "n_utterances": int(n_utt * ps.n_speakers),
        "n_speakers": ps.n_speakers,
        "seeds": ps.seeds,
        "power": float((v == HOLDS).mean()),
        "n_holds": int((v == HOLDS).sum()),
        "n_not_measurable": int((v == UNMEASURED).sum()),
        "n_does_not_hold": int((v == FAILS).sum()),
    }


def smallest_detected(power: pd.DataFrame, n_utterances: int, threshold: float = 0.8) -> dict[str, float]:
    """Per claim: the smallest planted effect with power >= ``threshold`` at the corpus size
    nearest ``n_utterances`` (NaN when none reaches it)."""
    out = {}
    for claim, rows in power.groupby("property", sort=False):
        sizes = rows["n_utterances"].unique()
        nearest = sizes[np.argmin(np.abs(sizes - n_utterances))]
        ok = rows[(rows["n_utterances"] == nearest) & (rows["power"] >= threshold) & (rows["effect"] > 0)]
        out[str(claim)] = float(ok["effect"].min()) if len(ok) else float("nan")
    return out


def plot_power(power: pd.DataFrame, path, default_utterances: int | None = None) -> None:
    """Power against planted effect, one line per corpus size, one panel per claim."""
    from speechneurons.plotting import plt, save_figure

    claims = list(pd.unique(power["property"]))
    fig, axes = plt.subplots(1, len(claims), figsize=(4.2 * len(claims), 3.4), squeeze=False, sharey=True)
    for ax, claim in zip(axes[0], claims, strict=True):
        rows = power[power["property"] == claim]
        for n, part in rows.groupby("n_utterances"):
            part = part.sort_values("effect")
            label = f"{n} utterances" + (" (default corpus)" if n == default_utterances else "")
            ax.plot(part["effect"], part["power"], marker="o", label=label)
        ax.axhline(0.8, color="grey", lw=0.8, ls="--")
        ax.axhline(0.05, color="grey", lw=0.8, ls=":")
        ax.set_title(textwrap.fill(str(rows["claim"].iloc[0]), 38), fontsize=10)
        ax.set_xlabel("planted effect (noise SD)")
        ax.set_ylim(-0.03, 1.03)
        ax.legend(fontsize=8)
    axes[0][0].set_ylabel(f"share of {int(power['seeds'].iloc[0])} seeds: holds")
    save_figure(fig, path)
