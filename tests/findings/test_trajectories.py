"""Verdicts on the layer-wise analysis claims from trajectories tables with known answers.

The PWCCA tables are built the way the stage builds them (per-checkpoint rows, ``add_steps``
with no steps as for a Hugging Face model, ``tables.findings``) and go through a TSV and back."""

from __future__ import annotations

import pandas as pd
import pytest

from speechneurons.findings import claims as cl
from speechneurons.findings.trajectories import (
    claim_phone_peak,
    claim_reset_top,
    claim_top_turns_back,
    trajectory_findings,
)
from speechneurons.io import read_table, write_table
from speechneurons.trajectories.finetune import SUMMARY_COLUMNS
from speechneurons.trajectories.tables import add_steps, findings

PEAKED = [0.2, 0.5, 0.7, 0.6, 0.4]  # phone: inner peak at layer 2, top (layer 4) lower
TURNS_BACK = [0.8, 0.5, 0.4, 0.45, 0.6]  # mel: falls to layer 2, rises again at the top
L = 4


def _tables(tmp_path, phone=PEAKED, mel=TURNS_BACK, spread=0.01, views=("phone", "mel", "frontend")):
    """pwcca.tsv, pwcca_trials.tsv and findings.tsv of a model with layers 0..len-1, checkpoint
    final only; trial t shifts layer l by (t - 1) * spread * l, so paired differences between
    layers a and b spread by spread * |a - b|."""
    curves = {"phone": phone, "mel": mel, "frontend": mel}
    rows, trials = [], []
    for view in views:
        for layer, v in enumerate(curves[view]):
            rows.append({"checkpoint": "final", "layer": layer, "view": view, "pwcca": v, "pwcca_std": 0.01})
            for t in range(3):
                value = v + (t - 1) * spread * layer
                trials.append({"checkpoint": "final", "layer": layer, "view": view, "trial": t, "test_pwcca": value})
    pwcca, trials = add_steps(pd.DataFrame(rows), {}), add_steps(pd.DataFrame(trials), {})
    out = {}
    for name, table in (("pwcca", pwcca), ("trials", trials), ("findings", findings(pwcca, trials))):
        write_table(table, tmp_path / f"{name}.tsv")
        out[name] = read_table(tmp_path / f"{name}.tsv")
    return out


def test_phone_peak_in_an_inner_layer_holds_with_the_paired_trial_range(tmp_path):
    t = _tables(tmp_path)
    f = claim_phone_peak(t["pwcca"], t["trials"], L)
    # layer 2 minus layer 4: 0.3 - 2 * (t - 1) * 0.01 per trial
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(30.0)
    assert (f.ci_low, f.ci_high) == pytest.approx((28.0, 32.0)) and "layer 2" in f.why


def test_phone_peak_at_the_top_or_at_the_input_does_not_hold(tmp_path):
    t = _tables(tmp_path, phone=[0.2, 0.3, 0.4, 0.5, 0.6])
    f = claim_phone_peak(t["pwcca"], t["trials"], L)
    assert f.verdict == cl.FAILS and f.value == pytest.approx(-10.0)
    t = _tables(tmp_path, phone=[0.8, 0.5, 0.4, 0.3, 0.2])
    f = claim_phone_peak(t["pwcca"], t["trials"], L)
    assert f.verdict == cl.FAILS and f.value > 0 and "layer 0" in f.why


def test_phone_peak_not_measurable_when_trials_disagree_or_layers_are_missing(tmp_path):
    t = _tables(tmp_path, phone=[0.2, 0.5, 0.61, 0.6, 0.6], spread=0.1)
    assert claim_phone_peak(t["pwcca"], t["trials"], L).verdict == cl.UNMEASURED  # trials straddle 0
    t = _tables(tmp_path)
    top = claim_phone_peak(t["pwcca"], t["trials"], 6)  # trajectories.layers stopped below the top
    assert top.verdict == cl.UNMEASURED and "top layer 6 was not measured" in top.why
    one = _tables(tmp_path, phone=[0.2, 0.5], mel=[0.8, 0.5])  # a one-layer model has no inner layer
    assert "no inner layer" in claim_phone_peak(one["pwcca"], one["trials"], 1).why
    no_phone = _tables(tmp_path, views=("mel",))
    assert "no phone PWCCA" in claim_phone_peak(no_phone["pwcca"], no_phone["trials"], L).why
    assert claim_phone_peak(None, None, L).verdict == cl.UNMEASURED


def test_top_layers_turn_back_needs_a_fall_then_a_rise(tmp_path):
    f = claim_top_turns_back(_tables(tmp_path)["findings"], L)
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(20.0) and "front-end view" in f.why
    assert (f.ci_low, f.ci_high) == pytest.approx((18.0, 22.0))
    grows = claim_top_turns_back(_tables(tmp_path, mel=[0.2, 0.3, 0.4, 0.5, 0.6])["findings"], L)
    assert grows.verdict == cl.UNMEASURED and "grows with depth" in grows.why
    falls = claim_top_turns_back(_tables(tmp_path, mel=[0.8, 0.6, 0.5, 0.4, 0.3])["findings"], L)
    assert falls.verdict == cl.FAILS and falls.value == pytest.approx(-10.0)


def test_top_layers_turn_back_without_a_mel_view_or_final_row(tmp_path):
    no_mel = claim_top_turns_back(_tables(tmp_path, views=("phone",))["findings"], L)
    assert no_mel.verdict == cl.UNMEASURED and "no mel" in no_mel.why
    other = _tables(tmp_path)["findings"].assign(checkpoint="step-100")
    assert "no findings.tsv row at checkpoint final" in claim_top_turns_back(other, L).why
    assert claim_top_turns_back(None, L).verdict == cl.UNMEASURED


def _reset(per, dev, delta, width=2.0) -> pd.DataFrame:
    """reset_top.tsv for n = 0, 1, ...: test PER, dev PER and the paired difference to n = 0."""
    rows = [
        dict(n_reset=n, per=p, per_low=p - 3, per_high=p + 3, delta_vs_0=d, delta_low=d - width * (n > 0),
             delta_high=d + width * (n > 0), lr=1e-3, dev_per=v, final_loss=1.0, steps=100, n_train=20, n_dev=5,
             n_test=10, seconds=1.0)
        for n, (p, v, d) in enumerate(zip(per, dev, delta))
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def test_reset_top_chooses_n_on_dev_and_reads_the_paired_interval():
    # n = 1 has the lowest test PER, but n = 2 the lowest dev PER: n = 2 is the one read
    f = claim_reset_top(_reset([50, 45, 47], [40, 38, 36], [0, -5, -3]))
    assert f.verdict == cl.HOLDS and f.value == 3.0 and (f.ci_low, f.ci_high) == (1.0, 5.0)
    assert "n = 2 (the lowest dev PER)" in f.why and "control: n = 0" in f.why
    assert claim_reset_top(_reset([50, 55], [40, 45], [0, 5])).verdict == cl.FAILS
    assert claim_reset_top(_reset([50, 49], [40, 39], [0, -1])).verdict == cl.UNMEASURED


def test_reset_top_is_not_measurable_when_the_fine_tuning_has_not_learned():
    """The default run's short fine-tuning: PER 94.9 % with n = 0, 90.4 % with n = 2. A paired
    interval above 0 then says which model starts learning sooner, not that n > 0 ends better."""
    f = claim_reset_top(_reset([95, 94, 90], [40, 40, 36], [0, -0.5, -4.5]))
    assert f.verdict == cl.UNMEASURED and f.value == 4.5
    assert "under-trains" in f.why and "the interval lies above 0" in f.why
    assert claim_reset_top(_reset([79, 74], [40, 38], [0, -5])).verdict == cl.HOLDS


def test_reset_top_needs_the_control_and_an_n_above_zero():
    no_zero = _reset([50, 45, 47], [40, 38, 36], [0, -5, -3]).iloc[1:]
    assert "n = 0, the control, was not fine-tuned" in claim_reset_top(no_zero).why
    only_zero = _reset([50], [40], [0])
    assert "no n > 0" in claim_reset_top(only_zero).why
    assert claim_reset_top(None).verdict == cl.UNMEASURED


def test_a_hugging_face_model_with_only_final_gets_every_claim(tmp_path):
    t = _tables(tmp_path)
    out = trajectory_findings(t["findings"], t["pwcca"], t["trials"], _reset([50, 45], [40, 38], [0, -5]), L)
    assert [f.verdict for f in out] == [cl.HOLDS] * 3
    assert all(f.study == out[0].study for f in out) and "from final" in out[2].measure
    assert len(cl.table(out)) == 3


def test_top_layers_turn_back_is_read_at_every_checkpoint(tmp_path):
    import pandas as pd

    final = _tables(tmp_path)["findings"]
    early = _tables(tmp_path, mel=[0.2, 0.3, 0.4, 0.5, 0.6])["findings"].assign(checkpoint="step-100")
    f = claim_top_turns_back(pd.concat([final, early], ignore_index=True), L)
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(20.0)  # the verdict is final's
    assert "at the other checkpoints: step-100:" in f.why and cl.UNMEASURED in f.why.split("step-100:")[1]
