"""Power of the dissection agreement claim: how often the findings page says "holds" for
"Descriptions agree with the property-neuron groups on held-out items above shuffled labels"
when gender and pitch units are planted, against the planted effect and the corpus size
(docs/positive-controls.md).

A simulated run is the corpus and the planted units of :mod:`speechneurons.findings.power` (the
same functions), one layer of them, with a share ``test_fraction`` of each speaker's utterances
held out (split ``test``), and then the project's own code end to end:

1. the property-neuron statistic on the train frames
   (:func:`speechneurons.properties.statistic.layer_statistic`), whose exclusive group neurons
   are the labelled neurons (:func:`speechneurons.dissection.scoring.property_truth`);
2. the dissection of the layer (:func:`speechneurons.dissection.dissect.dissect_dump_layer`):
   phone items (one per simulated frame: phone, phone type, gender, speaker, pitch bin) and
   utterance items (their means: gender, speaker), the train items selecting, the agreement
   and its shuffled-label null scored on the held-out items;
3. the findings claim (:func:`speechneurons.findings.dissection.claim_agreement`, gender on
   utterance items and pitch on phone items, as on a real run).

The dissection's permutations are the power section's ``null_draws`` (a real run uses
``dissection.n_permutations``). Nothing of the statistic, the dissection or the verdict is
written a second time.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

CLAIMS = ("gender", "pitch")
#: the power table's ``property`` of each claim's rows (the findings page's positive-control table
#: maps them to the claim, findings.positive_controls.POWER_CLAIMS)
PROPERTY = {p: f"agreement-{p}" for p in CLAIMS}
#: the claim's words on the findings page (findings.dissection.claim_agreement; a test keeps them equal)
CLAIM = "Descriptions agree with the property-neuron groups on held-out items above shuffled labels ({})"


def hold_out(index: pd.DataFrame, test_fraction: float, rng) -> pd.DataFrame:
    """``index`` with split ``test`` for a random ``test_fraction`` of each speaker's utterances
    (at least one, at most all but one), ``train`` for the others."""
    test = set()
    for _, utts in index.groupby("speaker", sort=True)["utt_id"]:
        names = np.unique(utts.to_numpy())
        k = min(max(1, int(round(test_fraction * len(names)))), len(names) - 1)
        test |= set(rng.choice(names, k, replace=False).tolist()) if k > 0 else set()
    return index.assign(split=np.where(index["utt_id"].isin(test), "test", "train"))


def simulated_items(index: pd.DataFrame, n_pitch_bins: int):
    """(phone items, utterance items) of a simulated index: one phone item per frame, one
    utterance item per utterance in order of first appearance."""
    from speechneurons.dissection.describe import ItemTable, bin_labels
    from speechneurons.phones import PHONE_TO_TYPE

    names = np.array(bin_labels(n_pitch_bins), dtype=object)
    b = index["pitch_bin"].to_numpy()
    phones = pd.DataFrame(
        {
            "item_id": index["utt_id"].astype(str) + ":" + index["frame"].astype(str),
            "utt_id": index["utt_id"].astype(str),
            "split": index["split"].astype(str),
            "phone": index["phone"].astype(str),
            "phone_type": [PHONE_TO_TYPE[p] for p in index["phone"]],
            "speaker": index["speaker"].astype(str),
            "gender": index["gender"].astype(str),
            "pitch": np.where(b >= 0, names[np.clip(b, 0, None)], None),
            "caption": "",
        }
    )
    first = phones.drop_duplicates("utt_id")
    utterances = first[["utt_id", "split", "speaker", "gender"]].assign(item_id=first["utt_id"], caption="")
    return (
        ItemTable("phone", phones, ("phone", "phone_type", "speaker", "gender", "pitch"), {}),
        ItemTable("utterance", utterances.reset_index(drop=True), ("speaker", "gender"), {}),
    )


def agreement_run(
    effect: float,
    utterances_per_speaker: int,
    seed: int,
    ps,
    settings,
    dissection,
    n_pitch_bins: int,
    level: float,
    test_fraction: float,
) -> dict[str, str]:
    """The verdict of the agreement claim for gender and pitch on one simulated run (module
    docstring); ``ps``: PowerSettings; ``settings``: PropertySettings; ``dissection``:
    DissectionSettings (items, splits, concepts, similarity, ... of the config); ``test_fraction``:
    the share of each speaker's utterances held out."""
    from speechneurons.dissection.dissect import dissect_dump_layer
    from speechneurons.dissection.scoring import property_truth
    from speechneurons.findings.dissection import claim_agreement
    from speechneurons.findings.power import planted_units, simulated_activations, simulated_index
    from speechneurons.properties.statistic import layer_statistic, tau_from_fraction

    rng = np.random.default_rng([int(seed), int(utterances_per_speaker), int(round(effect * 1000)), 17])
    index = simulated_index(ps.n_speakers, utterances_per_speaker, ps.frames_per_utterance, n_pitch_bins, rng)
    index = hold_out(index, test_fraction, rng)
    acts = simulated_activations(index, ps.D, effect, planted_units(n_pitch_bins, ps.units_per_group), rng)
    lp, _, _ = layer_statistic(acts, index, 1, settings, n_pitch_bins, 8192, "cpu", "error", "sim")
    truth = property_truth(lp.neurons_json(), n_pitch_bins)
    phones, utterances = simulated_items(index, n_pitch_bins)
    concepts = tuple(c for c in dissection.concepts if c in ("phone", "phone_type", "gender", "pitch"))
    d = replace(dissection, n_permutations=ps.null_draws, concepts=concepts or ("gender", "pitch"))
    tau = tau_from_fraction(settings.tau_fraction, ps.D)
    tables = dissect_dump_layer(acts, phones, utterances, truth, d, 1, tau, level)
    return {p: claim_agreement(tables.agreement, p).verdict for p in CLAIMS}


def agreement_power_table(
    ps, settings, dissection, n_pitch_bins: int, level: float, test_fraction: float
) -> pd.DataFrame:
    """Rows as :func:`speechneurons.findings.power.power_table`'s (property ``agreement-gender``,
    ``agreement-pitch``): the share of ``ps.seeds`` simulated runs whose agreement verdict holds,
    per planted effect and utterances per speaker."""
    from speechneurons.findings.power import power_row

    out = []
    for effect in ps.effects:
        for n_utt in ps.utterances_per_speaker:
            runs = [
                agreement_run(effect, n_utt, s, ps, settings, dissection, n_pitch_bins, level, test_fraction)
                for s in range(ps.seeds)
            ]
            log.info("agreement, effect %g, %d utterances per speaker: %s", effect, n_utt,
                     pd.DataFrame(runs).value_counts().to_dict())  # fmt: skip
            for claim in CLAIMS:
                out.append(
                    power_row(
                        f"{claim} descriptions agree with the property-neuron groups (dissection)",
                        PROPERTY[claim],
                        effect,
                        n_utt,
                        ps,
                        [r[claim] for r in runs],
                    )
                )
    return pd.DataFrame(out)
