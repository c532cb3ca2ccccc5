"""Concept-specific pruning run on the model (AND, section 4.3; scores: :mod:`.scoring`).

Families of concepts and what tags, probes and scores them:

=============  =========================================  ================  ========================
family         concepts (probe classes, in this order)    tagged on items   probe items
=============  =========================================  ================  ========================
phone_type     phone_type=vowel, =voiced_consonant,       phone             frames of speech phones
               =unvoiced_consonant
gender         gender=F, gender=M                         utterance         utterance means
pitch          pitch=<bin name> of the pitch stage's bins phone             voiced frames (pitch_bin)
=============  =========================================  ================  ========================

A neuron of a dissected layer is **tagged** with concept c when c is among its ``top_n`` top
concepts (computed on the selecting items, train by default). Pruning c zeroes its tagged
neurons in every dissected layer at once. The **control** zeroes, in each layer, as many
neurons drawn at random among the neurons tagged with no concept of the family, matched on
the distribution of activation rate by nearest rate (:func:`speechneurons.stats.controls.matched_control`,
experiments.match_neighbours and experiments.balance_ks; the balance is logged per concept and
written to pruning.tsv: ``control_balanced``, the share of the concept's layers whose control
passes the balance criterion, and ``control_ks``, the largest KS distance of its layers;
the rate is the share of train middle frames at which the neuron is among the top tau of its
layer, as in the property-neuron statistic). Which rate is experiments.erasure_control_rate: by
default (in_group) the rate on the concept's own frames (for phone_type=vowel, how often a
neuron is active on vowel frames; :func:`concept_group` names the property statistic's group,
read from its P.npz), so that the control is as busy where the tagged neurons fire and a
dA - dR beyond it is not explained by where they fire; overall, the rate over all frames
(``activation_rate`` of the neuron tables). pruning.tsv names it in ``matched_on``.

The probes are linear (the ``probes`` section's classifier on standardized features) on the
last layer's hidden states of the unpruned model, trained on the frames of a seeded sample of
train utterances; their decision values are the logits. Every pruned model and its control
run on a seeded sample of test utterances (one transformer pass each, batched with the
front-end computed once: :func:`speechneurons.probing.features.extract_features`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from speechneurons.dissection.describe import bin_labels
from speechneurons.dissection.scoring import bootstrap_pruning
from speechneurons.dissection.settings import PruningSettings, rng
from speechneurons.phones import PHONE_TYPES
from speechneurons.probing.features import Variant, extract_features, probe_frames
from speechneurons.probing.probes import fit_classifier, standardize
from speechneurons.stats.controls import balance_table, matched_control, share_balanced

log = logging.getLogger(__name__)

GENDERS = ("F", "M")
FAMILY_KIND = {"phone_type": "phone", "gender": "utterance", "pitch": "phone"}
TABLE_COLUMNS = [
    "family", "concept", "arm", "status", "n_tagged", "tagged_per_layer", "n_test_items", "n_test_utts",
    "probe_accuracy", "majority_rate", "dA", "dA_lo", "dA_hi", "dR", "dR_lo", "dR_hi", "gap", "gap_lo", "gap_hi",
    "matched_on", "control_balanced", "control_ks",
]  # fmt: skip


def family_concepts(family: str, n_pitch_bins: int) -> list[str]:
    """The concepts of a family as 'attribute=value', in probe-class order."""
    if family == "phone_type":
        return [f"phone_type={t}" for t in PHONE_TYPES]
    if family == "gender":
        return [f"gender={g}" for g in GENDERS]
    if family == "pitch":
        return [f"pitch={b}" for b in bin_labels(n_pitch_bins)]
    raise ValueError(f"unknown pruning family {family!r}: use phone_type, gender or pitch")


def concept_group(concept: str, n_pitch_bins: int) -> tuple[str, str]:
    """The property statistic's (property, group) of a pruned concept: phone_type=vowel ->
    (phone_type, vowel), gender=F -> (gender, F), pitch=<bin name> -> (pitch, <bin index>)."""
    family, _, value = concept.partition("=")
    if family == "pitch":
        return family, str(bin_labels(n_pitch_bins).index(value))
    if family not in FAMILY_KIND or not value:
        raise ValueError(f"{concept!r} is no concept of the pruning families {sorted(FAMILY_KIND)}")
    return family, value


def tagging_kind(family: str, kinds: Sequence[str]) -> str:
    """The item kind whose top concepts tag a family's neurons (phone items when the dissection
    has no utterance items)."""
    kind = FAMILY_KIND[family]
    return kind if kind in kinds else "phone"


def concept_sets(
    neurons: pd.DataFrame,
    settings: PruningSettings,
    n_pitch_bins: int,
    concept_rates: Mapping[str, Mapping[int, np.ndarray]] | None = None,
) -> list[dict]:
    """Tagged neurons and their control per concept of every family (see module docstring).

    ``neurons``: the neuron rows of every dissected layer (layer, kind, neuron, concepts,
    activation_rate). Returns dicts: family, concept, class (probe class index), kind,
    tagged and control ({layer: sorted neuron indices}, layers with none left out), and the
    control's balance: control_balanced (share of the layers within the criterion) and
    control_ks (largest KS distance), None when nothing is tagged. ``concept_rates``
    ({concept: {layer: rates}}, e.g. the rates on the concept's own frames) replaces the neuron
    tables' overall rates for the concepts it holds; ``matched_on`` says which was used.
    """
    out = []
    kinds = sorted(neurons["kind"].unique())
    for f, family in enumerate(settings.families):
        concepts = family_concepts(family, n_pitch_bins)
        kind = tagging_kind(family, kinds)
        tagged = {c: {} for c in concepts}
        rates, family_tagged = {}, {}
        for layer, g in neurons[neurons["kind"] == kind].groupby("layer"):
            g = g.sort_values("neuron")
            if not np.array_equal(g["neuron"].to_numpy(), np.arange(len(g))):
                raise ValueError(f"the neuron table of layer {layer} ({kind} items) does not list every neuron once")
            top = [str(c).split(";")[: settings.top_n] for c in g["concepts"]]
            rates[int(layer)] = g["activation_rate"].to_numpy(dtype=float)
            for c in concepts:
                members = np.flatnonzero([c in t for t in top])
                if len(members):
                    tagged[c][int(layer)] = sorted(int(j) for j in members)
            family_tagged[int(layer)] = sorted({j for c in concepts for j in tagged[c].get(int(layer), [])})
        for i, c in enumerate(concepts):
            in_group = concept_rates is not None and c in concept_rates
            matched = {layer: concept_rates[c][layer] for layer in rates} if in_group else rates
            control = matched_control(tagged[c], matched, settings.seed, stream=1000 * (f + 1) + i,
                                      neighbours=settings.match_neighbours, exclude=family_tagged,
                                      target=settings.balance_ks)  # fmt: skip
            balanced = worst = None
            if tagged[c]:
                b = balance_table(tagged[c], [control], matched, settings.balance_ks)
                log.info("%s control balance: KS %s (targets %s), balanced %s", c, b["ks_distance"].round(3).tolist(),
                         b["ks_target"].round(3).tolist(), b["balanced"].tolist())  # fmt: skip
                balanced, worst = share_balanced(b), float(b["ks_distance"].max())
            control = {layer: sorted(int(j) for j in v) for layer, v in control.items()}
            out.append({"family": family, "concept": c, "class": i, "kind": kind, "tagged": tagged[c],
                        "control": control, "matched_on": "in_group rate" if in_group else "overall rate",
                        "control_balanced": balanced, "control_ks": worst})  # fmt: skip
    return out


def sample_utterances(manifest: pd.DataFrame, settings: PruningSettings) -> pd.DataFrame:
    """The manifest rows of a seeded sample of at most ``max_train_utterances`` train and
    ``max_test_utterances`` test utterances (in manifest order)."""
    keep = []
    for s, (split, cap) in enumerate(
        [("train", settings.max_train_utterances), ("test", settings.max_test_utterances)]
    ):
        rows = np.flatnonzero(manifest["split"].astype(str).to_numpy() == split)
        if len(rows) == 0:
            raise ValueError(f"the manifest has no {split} utterance; the pruning needs both splits")
        if len(rows) > cap:
            rows = np.sort(rng(settings.seed, "utterances", s).choice(rows, size=cap, replace=False))
        keep.append(rows)
    return manifest.iloc[np.sort(np.concatenate(keep))].reset_index(drop=True)


def probe_items(features, family: str, n_pitch_bins: int, layer: int) -> pd.DataFrame:
    """The items of a family in a Features object: rows with split, utt_id, label (probe class)
    and position (row of the frame or utterance feature matrix)."""
    if family == "gender":
        u = features.utts
        label = u["gender"].astype(str).map({g: i for i, g in enumerate(GENDERS)})
        df = pd.DataFrame({"split": u["split"], "utt_id": u["utt_id"], "label": label, "row": np.arange(len(u))})
    else:
        fr = features.frames
        if family == "phone_type":
            use = fr["use_phone"].to_numpy(bool)
            label = fr["phone_type"].map({t: i for i, t in enumerate(PHONE_TYPES)})
        else:
            use = fr["use_f0"].to_numpy(bool) & (fr["pitch_bin"].to_numpy() >= 0)
            label = fr["pitch_bin"].where(fr["pitch_bin"].between(0, n_pitch_bins - 1))
        df = pd.DataFrame({"split": fr["split"], "utt_id": fr["utt_id"], "label": label, "row": np.arange(len(fr))})
        df = df[use]
    df = df.dropna(subset=["label"])
    return df.astype({"label": np.int64}).reset_index(drop=True)


def _matrix(features, family: str, layer: int) -> np.ndarray:
    return features.utt_feats[layer] if family == "gender" else features.frame_feats[layer]


def probe_logits(xtr: np.ndarray, ytr: np.ndarray, tests: Sequence[np.ndarray], n_classes: int, probe) -> list:
    """Decision values [N, n_classes] of a linear probe trained on (xtr, ytr), for each test matrix.

    The probe is the ``probes`` section's classifier (ridge or logistic) on features
    standardized with the training mean and sd. With two classes the single decision value s
    becomes the logits (-s, s)."""
    classes = np.unique(ytr)
    if len(classes) != n_classes:
        raise ValueError(f"the probe's training items hold {len(classes)} of its {n_classes} classes")
    xtr, *xs = standardize(np.asarray(xtr, dtype=np.float64), *(np.asarray(x, dtype=np.float64) for x in tests))
    clf = fit_classifier(xtr, ytr, probe)
    out = []
    for x in xs:
        s = clf.decision_function(x)
        out.append(np.column_stack([-s, s]) if s.ndim == 1 else s)
    return out


def run_pruning(
    loaded,
    manifest: pd.DataFrame,
    labels: pd.DataFrame,
    pitch: pd.DataFrame,
    sets: list[dict],
    settings: PruningSettings,
    probe,
    frame_settings,
    n_pitch_bins: int,
    **extract_kwargs,
) -> pd.DataFrame:
    """Score every concept's pruning against its control (see module docstring); the table has
    :data:`TABLE_COLUMNS`, one row per (family, concept, arm) and per family the mean over its
    pruned concepts ('mean of pruned'). A concept with no tagged neuron is 'not pruned'."""
    layer = int(loaded.num_layers)
    chosen = sample_utterances(manifest, settings)
    frames = probe_frames(chosen, labels, pitch, frame_settings)
    split = chosen["split"].to_numpy()
    in_split = {k: frames["utt_id"].isin(set(chosen.loc[split == k, "utt_id"])).to_numpy() for k in ("train", "test")}
    train = extract_features(loaded, chosen[split == "train"], frames[in_split["train"]], [layer],
                             [Variant("unpruned")], **extract_kwargs)["unpruned"]  # fmt: skip
    variants = [Variant("unpruned")] + [
        Variant(f"{s['concept']} {arm}", s[arm]) for s in sets if s["tagged"] for arm in ("tagged", "control")
    ]  # fmt: skip
    log.info("%d pruned variants on %d test utterances", len(variants) - 1, int((split == "test").sum()))
    after = extract_features(loaded, chosen[split == "test"], frames[in_split["test"]], [layer], variants,
                             **extract_kwargs)  # fmt: skip
    rows = []
    for family in settings.families:
        fam = [s for s in sets if s["family"] == family]
        rows += _score_family(family, fam, train, after, layer, n_pitch_bins, probe, settings)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def _aligned_rows(items: pd.DataFrame, features, family: str) -> np.ndarray:
    """Rows of ``features`` holding the test items of ``items`` (matched by utterance and frame)."""
    if family == "gender":
        where = pd.Series(np.arange(len(features.utts)), index=features.utts["utt_id"].to_numpy())
        return where.loc[items["utt_id"].to_numpy()].to_numpy()
    keys = features.frames["utt_id"] + ":" + features.frames["frame"].astype(str)
    where = pd.Series(np.arange(len(keys)), index=keys.to_numpy())
    return where.loc[items["key"].to_numpy()].to_numpy()


def _score_family(family, sets, train_feats, after, layer, n_pitch_bins, probe, settings) -> list[dict]:
    """The rows of one family: its probe trained on the unpruned train items, its logits on the
    test items of the unpruned model (``after['unpruned']``) and of every pruned variant."""
    before = after["unpruned"]
    train = probe_items(train_feats, family, n_pitch_bins, layer)
    test = probe_items(before, family, n_pitch_bins, layer)
    if family != "gender":
        fr = before.frames
        test["key"] = (fr["utt_id"] + ":" + fr["frame"].astype(str)).to_numpy()[test["row"].to_numpy()]
    x_train, x = _matrix(train_feats, family, layer), _matrix(before, family, layer)
    pruned = [s for s in sets if s["tagged"]]
    variant_x = []
    for s in pruned:
        for arm in ("tagged", "control"):
            feats = after[f"{s['concept']} {arm}"]
            variant_x.append(_matrix(feats, family, layer)[_aligned_rows(test, feats, family)])
    tests = [x[test["row"].to_numpy()], *variant_x]
    logits = probe_logits(x_train[train["row"].to_numpy()], train["label"].to_numpy(), tests, len(sets), probe)
    y = test["label"].to_numpy()
    accuracy = float(np.mean(logits[0].argmax(axis=1) == y))
    majority = float(np.bincount(y, minlength=len(sets)).max() / len(y))
    common = {"family": family, "n_test_items": len(test), "n_test_utts": int(test["utt_id"].nunique()),
              "probe_accuracy": accuracy, "majority_rate": majority}  # fmt: skip
    rows = []
    for s in sets:
        if not s["tagged"]:
            rows.append({**common, "concept": s["concept"], "arm": "tagged", "status": "not pruned: no tagged neuron",
                         "n_tagged": 0, "tagged_per_layer": ""})  # fmt: skip
    if not pruned:
        return rows
    tagged = {s["class"]: logits[1 + 2 * i] for i, s in enumerate(pruned)}
    control = {s["class"]: logits[2 + 2 * i] for i, s in enumerate(pruned)}
    boot = bootstrap_pruning(logits[0], tagged, control, y, test["utt_id"].to_numpy(), settings.resamples,
                             settings.level, settings.seed)  # fmt: skip
    by_class = {s["class"]: s for s in pruned}
    for r in boot.to_dict("records"):
        s = by_class.get(r["concept"])
        n_tagged = (
            sum(len(v) for v in s["tagged"].values())
            if s
            else sum(len(v) for p in pruned for v in p["tagged"].values())
        )
        per_layer = ";".join(f"{l}:{len(v)}" for l, v in sorted(s["tagged"].items())) if s else ""
        scored = [s] if s else pruned  # one concept, or the family's mean over its pruned concepts
        balance = _balance(scored)
        matched_on = ", ".join(sorted({p.get("matched_on", "") for p in scored}))
        rows.append({**common, **r, "concept": s["concept"] if s else "mean of pruned", "status": "pruned",
                     "n_tagged": n_tagged, "tagged_per_layer": per_layer, "matched_on": matched_on,
                     **balance})  # fmt: skip
    arm_rank = {"tagged": 0, "control": 1, "difference": 2}
    concept_rank = {s["concept"]: i for i, s in enumerate(sets)}
    return sorted(rows, key=lambda r: (arm_rank[r["arm"]], concept_rank.get(r["concept"], len(sets))))


def _balance(sets: Sequence[dict]) -> dict:
    """control_balanced (mean over the sets) and control_ks (largest) of concept sets."""
    shares = [s["control_balanced"] for s in sets if s.get("control_balanced") is not None]
    worst = [s["control_ks"] for s in sets if s.get("control_ks") is not None]
    return {
        "control_balanced": float(np.mean(shares)) if shares else np.nan,
        "control_ks": float(np.max(worst)) if worst else np.nan,
    }
