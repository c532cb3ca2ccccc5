"""Power of the dissection agreement claim on simulated runs (speechneurons.findings.power_dissection)."""

import numpy as np
import pytest

from speechneurons.config import defaults, settings_from
from speechneurons.dissection.settings import DissectionSettings
from speechneurons.findings.dissection import claim_agreement
from speechneurons.findings.positive_controls import POWER_CLAIMS
from speechneurons.findings.power import PowerSettings, simulated_index
from speechneurons.findings.power_dissection import (
    CLAIM,
    PROPERTY,
    agreement_power_table,
    hold_out,
    simulated_items,
)
from speechneurons.properties.statistic import PropertySettings

SETTINGS = PropertySettings(tau_fraction=0.01, sigma=0.8, min_count=5, splits=("train",), selection="threshold",
                            fdr_q=0.05)  # fmt: skip
PS = PowerSettings(effects=(0.0, 4.0), utterances_per_speaker=(8,), seeds=2, n_speakers=6, frames_per_utterance=30,
                   n_layers=3, D=100, units_per_group=3, overlap_units=0, null_draws=19, count_resamples=9)  # fmt: skip


def _dissection():
    return settings_from(DissectionSettings, defaults()["dissection"])


def test_hold_out_keeps_train_and_test_utterances_per_speaker():
    index = simulated_index(4, 8, 5, 3, np.random.default_rng(0))
    held = hold_out(index, 0.25, np.random.default_rng(0))
    per = held.drop_duplicates("utt_id").groupby("speaker")["split"].value_counts().unstack()
    assert (per["test"] == 2).all() and (per["train"] == 6).all()
    assert held.groupby("utt_id")["split"].nunique().max() == 1  # an utterance's frames stay together


def test_simulated_items_carry_the_concepts_of_the_claim():
    index = hold_out(simulated_index(4, 3, 5, 3, np.random.default_rng(0)), 0.3, np.random.default_rng(1))
    phones, utterances = simulated_items(index, 3)
    assert len(phones.table) == len(index) and len(utterances.table) == index["utt_id"].nunique()
    unvoiced = index["pitch_bin"].to_numpy() < 0
    assert phones.table.loc[unvoiced, "pitch"].isna().all()
    assert set(phones.table.loc[~unvoiced, "pitch"]) == {"low", "mid", "high"}
    assert (utterances.table["item_id"] == utterances.table["utt_id"]).all()


def test_the_table_names_the_findings_claim():
    for prop in ("gender", "pitch"):
        assert claim_agreement(None, prop).claim == CLAIM.format(prop) == POWER_CLAIMS[PROPERTY[prop]]


@pytest.mark.filterwarnings("ignore")
def test_known_answers_nothing_planted_never_holds_a_large_effect_holds_for_pitch_not_gender():
    power = agreement_power_table(PS, SETTINGS, _dissection(), 3, 0.95, 0.25).set_index(["property", "effect"])
    assert (power.xs(0.0, level="effect")["power"] == 0).all()
    assert power.loc[("agreement-pitch", 4.0), "power"] == 1
    # gender on 12 held-out utterance items, only the planted units labelled: gender=F and
    # gender=M are complementary columns of equal counts, so a shuffle of the labels makes every
    # gender unit agree, or every one disagree, about half the time; the chance range of the
    # share reaches 100 % and a perfect agreement cannot lie above it
    assert power.loc[("agreement-gender", 4.0), "power"] == 0
    assert (power["n_holds"] + power["n_not_measurable"] + power["n_does_not_hold"] == PS.seeds).all()
