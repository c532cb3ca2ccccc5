"""Power of the property-neuron claims on simulated runs (speechneurons.findings.power) and the
positive-control section of the findings page (speechneurons.findings.positive_controls)."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.findings.positive_controls import ABSENT, control_table, power_text
from speechneurons.findings.power import (
    PowerSettings,
    planted_units,
    power_table,
    simulated_activations,
    simulated_index,
    smallest_detected,
)
from speechneurons.properties.statistic import PropertySettings

SETTINGS = PropertySettings(tau_fraction=0.01, sigma=0.8, min_count=5, splits=("train",), selection="threshold",
                            fdr_q=0.05)  # fmt: skip


def _ps(**kw):
    base = dict(effects=(0.0, 4.0), utterances_per_speaker=(12,), seeds=3, n_speakers=8, frames_per_utterance=30,
                n_layers=3, D=100, units_per_group=2, overlap_units=2, null_draws=9, count_resamples=9)  # fmt: skip
    return PowerSettings(**(base | kw))


def test_simulated_corpus_is_balanced_and_binned():
    index = simulated_index(6, 3, 10, 3, np.random.default_rng(0))
    assert len(index) == 6 * 3 * 10 and index["utt_id"].nunique() == 18
    assert index.groupby("speaker")["gender"].nunique().max() == 1
    assert (index.groupby("speaker")["gender"].first() == "F").sum() == 3
    voiced = index["pitch_bin"] >= 0
    assert set(index.loc[voiced, "pitch_bin"]) == {0, 1, 2} and index.loc[~voiced, "f0_hz"].isna().all()
    with pytest.raises(ValueError, match="even"):
        simulated_index(5, 1, 10, 3, np.random.default_rng(0))


def test_planted_units_shift_only_their_group():
    index = simulated_index(4, 2, 20, 3, np.random.default_rng(0))
    planted = planted_units(3, 2)
    assert planted[("gender", "F")] == [0, 1] and planted[("pitch", "2")] == [8, 9]
    a0 = simulated_activations(index, 20, 0.0, planted, np.random.default_rng(1))
    a5 = simulated_activations(index, 20, 5.0, planted, np.random.default_rng(1))
    female = (index["gender"] == "F").to_numpy()
    assert np.allclose(a5[female, 0] - a0[female, 0], 5.0) and np.allclose(a5[~female, 0], a0[~female, 0])
    assert np.array_equal(a5[:, 10:], a0[:, 10:])


def test_known_answers_null_never_holds_huge_effect_always_does():
    power = power_table(_ps(), SETTINGS, n_pitch_bins=3, level=0.95)
    assert len(power) == 2 * 3  # effects x corpus sizes x claims (gender, pitch U shapes; overlap)
    null, huge = power[power["effect"] == 0], power[power["effect"] == 4]
    assert (null["power"] == 0).all()
    # nothing planted shares no neurons: the overlap claim cannot be tested, never "does not hold"
    assert null.set_index("property").loc["overlap", "n_not_measurable"] == 3
    u_shapes = huge[huge["property"] != "overlap"]
    assert (u_shapes["power"] == 1).all()
    assert smallest_detected(u_shapes, n_utterances=96) == {"gender": 4.0, "pitch": 4.0}


def test_planted_overlap_holds_at_the_default_corpus_size():
    """Claim 2 on 14 speakers x 40 utterances (the default synth corpus's size): the units planted
    on female speakers' top-bin and unvoiced frames are gender and pitch units, the only shared
    ones, above the chance range of both nulls; with 8 speakers x 12 utterances (above) the
    chance range of 9 null draws reaches the planted overlap in some seeds."""
    ps = _ps(utterances_per_speaker=(40,), n_speakers=14, seeds=2, overlap_units=3)
    power = power_table(ps, SETTINGS, n_pitch_bins=3, level=0.95)
    overlap = power[power["property"] == "overlap"].set_index("effect")
    assert overlap.loc[4.0, "n_holds"] == 2 and overlap.loc[0.0, "n_not_measurable"] == 2


def test_control_table_puts_planted_verdicts_beside_the_model():
    own = pd.DataFrame({"study": ["S", "S", "S"], "claim": ["a", "a", "b"], "verdict": ["x", "y", "z"]})
    planted = pd.DataFrame({"study": ["S", "S"], "claim": ["a", "a"], "verdict": ["holds", "holds2"]})
    runs = [{"name": "p", "signal": "property", "findings": "-"}, {"name": "n", "signal": "null", "findings": "-"}]
    t = control_table(own, runs, {"p": planted}, None)
    assert list(t["positive control (p)"]) == ["holds", "holds2", "claim not checked"]
    assert list(t["null twin (n)"]) == [ABSENT] * 3
    assert list(t["this model"]) == ["x", "y", "z"]


def test_power_text_names_the_false_positive_rate():
    power = pd.DataFrame({"property": ["gender"] * 2, "effect": [0.0, 1.0], "n_utterances": [560] * 2,
                          "power": [0.05, 0.9], "seeds": [20] * 2})  # fmt: skip
    text = power_text(power, "Gender neurons are most numerous at the bottom and top layers")
    assert "0: 0.05 (false positives)" in text and "1: 0.90" in text and "560 utterances" in text
    assert power_text(power, "something else") == "" and power_text(None, "x") == ""


def test_control_section_reads_planted_runs_and_says_when_absent(tmp_path):
    from speechneurons.findings.positive_controls import control_section

    own = pd.DataFrame({"study": ["S"], "claim": ["a"], "verdict": ["not measurable here"]})
    heading, note, frame = control_section(own, [], None)
    assert heading == "Positive controls" and "configs/positive-controls.yaml" in note
    assert list(frame.columns) == ["study", "claim", "this model"]
    path = tmp_path / "findings.tsv"
    pd.DataFrame({"study": ["S"], "claim": ["a"], "verdict": ["holds"]}).to_csv(path, sep="\t", index=False)
    runs = [{"name": "p", "signal": "property", "findings": str(path)},
            {"name": "n", "signal": "null", "findings": str(tmp_path / "absent.tsv")}]  # fmt: skip
    _, note, frame = control_section(own, runs, None)
    assert frame["positive control (p)"].tolist() == ["holds"] and frame["null twin (n)"].tolist() == [ABSENT]
    assert "without findings yet: n" in note
