"""What splicing SAEs into the model and erasing their latents costs downstream.

Model variants (:class:`speechneurons.probing.features.Variant`), all of the same loaded
model, scored by the experiments stage's probes on the same frames and utterances:

- ``model``: the model as it is (the baseline of every comparison);
- ``splice <arch> layer <L>``: layer L's FFN activations replaced by the SAE's reconstruction
  x_hat (keep_error False): what the SAE's reconstruction error costs;
- ``erase <group> <arch> <property|random>``: the group's exclusive property latents zeroed at
  the splice layers with the reconstruction error kept (h - decoder contribution of the erased
  latents, so that erasing nothing is the model itself), and a density-matched random set;
- ``erase <group> neurons <property|random>``: the group's property neurons silenced at the
  same layers, and the experiments stage's matched random control (the same sets per layer).

The masked-prediction loss (pretrained models: HuBERT's own objective with the checkpoint's
head, on held-out utterances with the last iteration's targets) is scored per utterance for
the model and each spliced variant, with the same masks for all variants.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.model.hubert import masked_prediction_accuracy
from speechneurons.neuron_sets import group_neurons
from speechneurons.probing.features import Variant
from speechneurons.probing.probes import add_roles, select_layers
from speechneurons.probing.scoring import compare
from speechneurons.stats import bootstrap_delta, bootstrap_ratio
from speechneurons.stats.controls import KS_TARGET, balance_table, matched_control
from speechneurons.study import parse_erasure_name

from .neurons import spliced_ffn
from .sae import SparseAutoencoder

log = logging.getLogger(__name__)

#: the probe task on which erasing a property's units is expected to act
OWN_TASK = {"gender": "gender", "phone_type": "phone", "pitch": "f0"}


def evenly_spread(manifest: pd.DataFrame, per_split: int, splits: Sequence[str] = ("train", "test")) -> pd.DataFrame:
    """At most ``per_split`` utterances of each split, evenly spread over the sorted utterance
    ids (0 = all); other splits are dropped. Deterministic (no random draw)."""
    parts = []
    for split in splits:
        rows = manifest[manifest["split"] == split].sort_values("utt_id")
        if per_split and len(rows) > per_split:
            rows = rows.iloc[np.unique(np.linspace(0, len(rows) - 1, per_split).round().astype(int))]
        parts.append(rows)
    return pd.concat(parts).reset_index(drop=True) if parts else manifest.iloc[:0]


def splice_edit(
    saes: Mapping[int, SparseAutoencoder], erase: Mapping[int, Sequence[int]] | None = None, keep_error: bool = False
) -> Callable:
    """A ``Variant.edit``: the SAEs spliced into their layers' FFN sites while a pass runs."""

    def edit(model):
        return spliced_ffn(model, saes, erase=erase, keep_error=keep_error)

    return edit


def variant_name(kind: str, *parts) -> str:
    """'model', 'splice <arch> layer <L>' or 'erase <group> <units> <property|random>'."""
    return " ".join([kind, *map(str, parts)])


@contextlib.contextmanager
def _nothing(model):
    yield


def masked_prediction_losses(
    model,
    head,
    waves: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    grid,
    mask_prob: float,
    mask_length: int,
    seed: int,
    variants: Mapping[str, Callable | None],
) -> pd.DataFrame:
    """Per variant and utterance: ``variant, utterance, n_masked, n_correct, loss_sum`` of the
    masked prediction (:func:`speechneurons.model.hubert.masked_prediction_accuracy` on one
    utterance at a time, its mask seeded by (seed, utterance index): the same mask for every
    variant). ``variants``: name -> an edit context factory (None: the model as it is)."""

    rows = []
    for name, edit in variants.items():
        with (edit or _nothing)(model):
            for i, (wave, target) in enumerate(zip(waves, targets, strict=True)):
                seed_i = int(np.random.SeedSequence([seed, i]).generate_state(1)[0])
                s = masked_prediction_accuracy(model, head, [wave], [target], grid, mask_prob, mask_length, seed=seed_i)
                rows.append(
                    dict(
                        variant=name,
                        utterance=i,
                        n_masked=s["n_masked"],
                        n_correct=round(s["masked_acc"] * s["n_masked"]),
                        loss_sum=s["masked_loss"] * s["n_masked"],
                    )
                )
    return pd.DataFrame(rows, columns=["variant", "utterance", "n_masked", "n_correct", "loss_sum"])


def masked_prediction_table(losses: pd.DataFrame, resamples: int, seed: int, level: float) -> pd.DataFrame:
    """Per variant: masked accuracy and cross-entropy with bootstrap intervals over utterances,
    and their paired differences to the variant 'model'."""
    base = losses[losses["variant"] == "model"].set_index("utterance").sort_index()
    rows = []
    for name, v in losses.groupby("variant", sort=False):
        v = v.set_index("utterance").loc[base.index]
        row = dict(variant=name, n_utterances=len(v), n_masked=int(v["n_masked"].sum()))
        for metric, col in (("masked_acc", "n_correct"), ("masked_loss", "loss_sum")):
            row[metric], row[f"{metric}_ci_low"], row[f"{metric}_ci_high"] = bootstrap_ratio(
                v[col], v["n_masked"], resamples, seed, level
            )
            if name != "model":
                row[f"{metric}_delta"], row[f"{metric}_delta_ci_low"], row[f"{metric}_delta_ci_high"] = bootstrap_delta(
                    v[col], v["n_masked"], base[col], base["n_masked"], resamples, seed, level
                )
        rows.append(row)
    return pd.DataFrame(rows)


def splice_table(losses: Mapping[str, pd.DataFrame], roles, resamples: int, seed: int, level: float) -> pd.DataFrame:
    """Probe errors of every ``splice ...`` variant against the model, per task and probe layer
    (:func:`speechneurons.probing.scoring.compare` with kind 'error'): ``variant,
    architecture, layer_spliced`` then compare's columns."""
    base = select_layers(losses["model"], roles)
    parts = []
    for name, v in losses.items():
        if not name.startswith("splice "):
            continue
        _, arch, _, layer = name.split()
        t = compare(select_layers(v, roles), base, resamples, seed, level, kind="error")
        t.insert(0, "layer_spliced", int(layer))
        t.insert(0, "architecture", arch)
        t.insert(0, "variant", name)
        parts.append(t)
    return add_roles(pd.concat(parts, ignore_index=True), roles) if parts else pd.DataFrame()


def erasure_table(
    losses: Mapping[str, pd.DataFrame], sizes: Mapping[str, int], roles, resamples: int, seed: int, level: float
) -> pd.DataFrame:
    """Every ``erase <group> <units> property`` erasure (the keys of ``sizes``) per task and probe
    layer: its error, the paired difference to the model and to its random control
    (``vs_control``), each with a bootstrap interval; ``units`` is 'neurons' or an
    architecture, ``n_erased`` the units erased (summed over layers), ``own_task`` whether the
    task is the group's own property's. An erasure of no unit was not run: its rows say
    ``nothing_erased`` and have no effect."""
    base = select_layers(losses["model"], roles)
    parts = []
    for name in sizes:
        parts_ = name.split()
        if parts_[0] != "erase" or parts_[-1] != "property":
            continue
        group, units = parts_[1], parts_[2]
        control = variant_name("erase", group, units, "random")
        if name not in losses:  # nothing to erase: no pass was run
            t = base[["task", "layer"]].drop_duplicates().reset_index(drop=True)
            t.insert(2, "nothing_erased", True)
        else:
            t = compare(select_layers(losses[name], roles), base, resamples, seed, level, kind="error")
            t.insert(2, "nothing_erased", False)
        if name in losses and control in losses:
            c = compare(
                select_layers(losses[name], roles),
                select_layers(losses[control], roles),
                resamples,
                seed,
                level,
                kind="error",
            )
            c = c[["task", "layer", "baseline", "delta", "delta_ci_low", "delta_ci_high"]]
            c.columns = ["task", "layer", "control_value", "vs_control", "vs_control_ci_low", "vs_control_ci_high"]
            t = t.merge(c, on=["task", "layer"], how="left")
        prop = group.split("-", 1)[0]
        t.insert(0, "own_task", t["task"] == OWN_TASK.get(prop))
        t.insert(0, "n_control", sizes.get(control, 0))
        t.insert(0, "n_erased", sizes.get(name, 0))
        t.insert(0, "units", units)
        t.insert(0, "erasure", group)
        parts.append(t)
    return add_roles(pd.concat(parts, ignore_index=True), roles) if parts else pd.DataFrame()


def _control(units, rates, seed: int, stream: int, neighbours: int, target: float, label: str):
    """The matched control of ``units`` (one draw) and its :func:`balance_table` (logged)."""
    control = matched_control(units, rates, seed, stream, neighbours, target=target)
    b = balance_table(units, [control], rates, target)
    if units:
        log.info("%s random control: KS %s (targets %s), balanced %s", label, b["ks_distance"].round(3).tolist(),
                 b["ks_target"].round(3).tolist(), b["balanced"].tolist())  # fmt: skip
    return control, b


def probe_variants(
    saes: Mapping[tuple[int, str], SparseAutoencoder],
    latents: Mapping[tuple[int, str], Mapping],
    latent_rates: Mapping[str, Mapping[tuple[int, str], np.ndarray]],
    neurons: Mapping[int, Mapping],
    neuron_rates: Mapping[str, Mapping[int, np.ndarray]],
    erasures: Sequence[str],
    erasure_architectures: Sequence[str],
    match_neighbours: int,
    seed: int,
    balance_ks: float = KS_TARGET,
):
    """The variants of this module's docstring, from the SAEs at k ({(layer, arch): SAE} at the
    splice layers), the statistic on their latents (latents.json documents, for the erasure
    architectures) and on the neurons of the splice layers. Every random control is
    :func:`~speechneurons.stats.controls.matched_control` (the experiments stage's matcher): as
    many units per layer, matched by nearest activation rate (``match_neighbours``, balance
    target ``balance_ks``, the balance logged per control). The rates are given per erasure
    (``latent_rates[erasure][layer, arch]``, ``neuron_rates[erasure][layer]``), so that a control
    can be matched on the erased group's frames (experiments.erasure_control_rate,
    :func:`~speechneurons.activated.control_rates`). Neuron controls use the experiments stage's
    seed and stream, but are drawn from every other neuron (the experiments stage also leaves out
    every property's neurons), so the two stages' neuron controls need not coincide. Returns
    (variants, sets, balance): sets maps each erasure variant to {layer: units}; erasures of no
    unit get no variant; balance holds each control's :func:`balance_table` per layer, with its
    ``erasure`` and ``units``."""
    import zlib

    variants = [Variant("model")]
    for (layer, arch), sae in sorted(saes.items()):
        variants.append(Variant(variant_name("splice", arch, "layer", layer), {}, splice_edit({layer: sae}), layer))
    sets: dict[str, dict[int, np.ndarray]] = {}
    balances = []
    for name in erasures:
        prop, group = parse_erasure_name(name)
        units = group_neurons(neurons, prop, group)
        sets[variant_name("erase", name, "neurons", "property")] = units
        control, b = _control(
            units, neuron_rates[name], seed, zlib.crc32(name.encode()), match_neighbours, balance_ks, name
        )
        sets[variant_name("erase", name, "neurons", "random")] = control
        balances.append(b.assign(erasure=name, units="neurons"))
        for arch in erasure_architectures:
            units = group_neurons({layer: doc for (layer, a), doc in latents.items() if a == arch}, prop, group)
            sets[variant_name("erase", name, arch, "property")] = units
            rates = {layer: r for (layer, a), r in latent_rates[name].items() if a == arch}
            label = f"{name} {arch}"
            control, b = _control(units, rates, seed, zlib.crc32(label.encode()), match_neighbours, balance_ks, label)
            sets[variant_name("erase", name, arch, "random")] = control
            balances.append(b.assign(erasure=name, units=arch))
    for vname, by_layer in sets.items():
        if not sum(len(idx) for idx in sets[vname.rsplit(" ", 1)[0] + " property"].values()):
            continue  # the group has no such units at these layers: nothing to erase, no pass
        units = vname.split()[2]
        if units == "neurons":
            variants.append(Variant(vname, {layer: idx.tolist() for layer, idx in by_layer.items()}))
        else:
            here = {layer: saes[layer, units] for layer in by_layer}
            variants.append(Variant(vname, {}, splice_edit(here, erase=by_layer, keep_error=True), min(here)))
    return variants, sets, pd.concat(balances, ignore_index=True) if balances else pd.DataFrame()


def with_balance(erasure: pd.DataFrame, balance: pd.DataFrame, matched_on: str) -> pd.DataFrame:
    """The erasure table with what its controls were matched on and how well: ``matched_on``,
    and per erasure and kind of unit ``control_balanced`` (the share of the layers with units
    whose control passes the balance criterion, :func:`~speechneurons.stats.controls.share_balanced`)
    and ``control_ks`` (the largest KS distance between erased and control rates over those layers)."""
    out = erasure.assign(matched_on=matched_on)
    if not len(out) or not len(balance):
        return out
    rows = balance[balance["n_set"] > 0]
    summary = (
        rows.groupby(["erasure", "units"], sort=False)
        .agg(control_balanced=("share_balanced", "mean"), control_ks=("ks_distance", "max"))
        .reset_index()
    )
    return out.merge(summary, on=["erasure", "units"], how="left")
