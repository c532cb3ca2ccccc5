"""Verdicts on the layer-wise analysis claims from trajectories tables with known answers.

The PWCCA tables are built the way the stage builds them (per-checkpoint rows, ``add_steps``
with no steps as for a Hugging Face model, ``tables.findings``) and go through a TSV and back."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from speechneurons.findings import claims as cl
from speechneurons.findings.trajectories import (
    MIN_PEAK,
    claim_phone_peak,
    claim_reset_top,
    claim_top_turns_back,
    sign_flip_null,
    trajectory_findings,
)
from speechneurons.io import read_table, write_table
from speechneurons.trajectories.finetune import SUMMARY_COLUMNS
from speechneurons.trajectories.tables import add_steps, findings

PEAKED = [0.2, 0.5, 0.7, 0.6, 0.4]  # phone: inner peak at layer 2, top (layer 4) lower
TURNS_BACK = [0.8, 0.5, 0.4, 0.45, 0.6]  # mel: falls to layer 2, rises again at the top
L = 4


def _tables(tmp_path, phone=PEAKED, mel=TURNS_BACK, spread=0.01, views=("phone", "mel", "frontend"), trials=8,
            dev_shift=None):  # fmt: skip
    """pwcca.tsv, pwcca_trials.tsv and findings.tsv of a model with layers 0..len-1, checkpoint
    final only; trial t shifts layer l by (t - (trials - 1) / 2) * spread * l on its test and dev
    parts, so paired differences between layers a and b spread by spread * |a - b|;
    ``dev_shift``: {layer: shift} added to the phone dev scores only (a peak seen on one side)."""
    curves = {"phone": phone, "mel": mel, "frontend": mel}
    rows, rows_t = [], []
    for view in views:
        for layer, v in enumerate(curves[view]):
            rows.append({"checkpoint": "final", "layer": layer, "view": view, "pwcca": v, "pwcca_std": 0.01})
            for t in range(trials):
                value = v + (t - (trials - 1) / 2) * spread * layer
                dev = value + ((dev_shift or {}).get(layer, 0.0) if view == "phone" else 0.0)
                rows_t.append({"checkpoint": "final", "layer": layer, "view": view, "trial": t, "dev_pwcca": dev,
                               "test_pwcca": value})  # fmt: skip
    pwcca, table = add_steps(pd.DataFrame(rows), {}), add_steps(pd.DataFrame(rows_t), {})
    out = {}
    for name, frame in (("pwcca", pwcca), ("trials", table), ("findings", findings(pwcca, table))):
        write_table(frame, tmp_path / f"{name}.tsv")
        out[name] = read_table(tmp_path / f"{name}.tsv")
    return out


CHANCE = dict(level=0.95, resamples=1000, seed=0)


def _peak(t, num_layers=L, **kw):
    return claim_phone_peak(t["pwcca"], t["trials"], num_layers, **(CHANCE | kw))


def test_a_planted_inner_peak_holds_above_its_sign_flip_chance_range(tmp_path):
    """(a) Layer 2 above the top on dev and on test in each of 8 trials."""
    f = _peak(_tables(tmp_path))
    # layer 2 minus layer 4: 0.3 - 2 * (t - 3.5) * 0.01 per trial, 0.23 .. 0.37
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(30.0) and "layer 2" in f.why
    assert (f.ci_low, f.ci_high) == pytest.approx((23.0, 37.0))
    # the sign-flip null of 8 positive differences is symmetric about 0 and lies below 30
    assert f.chance_low == pytest.approx(-f.chance_high) and 0 < f.chance_high < 30
    assert "all 256" in f.why and "p above 0.00391" in f.why


def test_sign_flip_null_is_exact_up_to_twelve_trials_then_seeded():
    null, exact = sign_flip_null([1.0, 2.0, 3.0], resamples=10, seed=0)
    assert exact and sorted(null * 3) == [-6, -4, -2, 0, 0, 2, 4, 6]
    many = np.arange(1.0, 14.0)
    a, exact = sign_flip_null(many, resamples=500, seed=3)
    assert not exact and a.shape == (500,) and np.array_equal(a, sign_flip_null(many, 500, 3)[0])
    assert abs(a.mean()) < 1.0


def _null_tables(rng, n_trials, num_layers=6, sd=0.005):
    """Every layer above 0 has the same phone PWCCA (0.5) plus independent noise per layer, trial
    and part (dev, test); layer 0 is lower (0.3), as on every model."""
    pw, tr = [], []
    for layer in range(num_layers + 1):
        base = 0.3 if layer == 0 else 0.5
        dev, test = base + sd * rng.standard_normal((2, n_trials))
        pw.append(dict(checkpoint="final", layer=layer, view="phone", pwcca=test.mean()))
        tr += [dict(checkpoint="final", layer=layer, view="phone", trial=t, dev_pwcca=dev[t], test_pwcca=test[t])
               for t in range(n_trials)]  # fmt: skip
    return pd.DataFrame(pw), pd.DataFrame(tr)


def _old_rule(pw, tr, num_layers=6):
    """The rule before issue 24: l* the inner layer with the highest mean TEST PWCCA, read on the
    same test parts, interval = smallest..largest trial, no chance range."""
    pw, tr = pw[pw["view"] == "phone"], tr[tr["view"] == "phone"]
    inner = pw[(pw["layer"] > 0) & (pw["layer"] < num_layers)]
    peak = int(inner.loc[inner["pwcca"].idxmax(), "layer"])
    x, y = (tr[tr["layer"] == k].set_index("trial")["test_pwcca"] for k in (peak, num_layers))
    d = 100 * (x - y).to_numpy()
    return d.mean(), cl.verdict_positive(d.mean(), d.min(), d.max())[0]


def test_equal_layers_do_not_hold_where_the_old_max_over_inner_layers_did():
    """(b) Every layer equal up to noise: choosing l* on the test scores it is read on (the old
    rule) makes the effect lean positive (+0.35 points on average) and says *holds* on 56 of 200
    such nulls with the default 3 trials; chosen on dev, the effect centres on 0 and never holds
    (3 trials: too few to hold at all; 8 trials: at most its 2.5 % tail)."""
    for n, old_holds, new_holds in ((3, 40, 0), (8, None, 5)):
        rng = np.random.default_rng(0)
        old_v, new_v, olds, news = [], [], 0, 0
        for _ in range(200):
            pw, tr = _null_tables(rng, n)
            v, verdict = _old_rule(pw, tr)
            old_v.append(v)
            olds += verdict == cl.HOLDS
            f = claim_phone_peak(pw, tr, 6, **CHANCE)
            new_v.append(f.value)
            news += f.verdict == cl.HOLDS
        assert news <= new_holds and abs(np.mean(new_v)) < 0.1
        assert np.mean(old_v) > 0.15
        if old_holds is not None:
            assert olds >= old_holds


def test_a_peak_seen_on_test_but_not_on_dev_is_not_chosen(tmp_path):
    """(c) Layer 3 is far above the top on the test parts, but not on dev: l* is layer 2, the
    best on dev, and its test score is below the top's."""
    t = _tables(tmp_path, phone=[0.2, 0.5, 0.55, 0.7, 0.6], spread=0.005, dev_shift={3: -0.2})
    f = _peak(t)
    assert "peak inner layer on dev: layer 2" in f.why and f.value == pytest.approx(-5.0)
    assert f.verdict == cl.FAILS
    assert _old_rule(t["pwcca"], t["trials"], L)[1] == cl.HOLDS  # the old rule took layer 3 (+10)
    tie = _peak(_tables(tmp_path, phone=[0.2, 0.5, 0.7, 0.7, 0.4]))  # layers 2 and 3 tie on dev
    assert "peak inner layer on dev: layer 2" in tie.why


def test_too_few_trials_for_the_sign_flip_null_are_not_measurable(tmp_path):
    """(d) 3 trials (the default) give 8 sign patterns: the smallest p is 1/8, above the 2.5 %
    tail of a 95 % chance range, so the claim cannot hold or fail; 6 trials (1/64) can."""
    f = _peak(_tables(tmp_path, trials=3))
    assert f.verdict == cl.UNMEASURED and f.value == pytest.approx(30.0)
    assert f.why.startswith("3 trials give a sign-flip null whose smallest p is 0.125, above 0.025")
    assert "too few to hold or to fail" in f.why
    assert "needs at least 6 trials" in f.why and "measured: the interval lies above 0" in f.why
    assert "smallest p is 0.0312" in _peak(_tables(tmp_path, trials=5)).why
    assert _peak(_tables(tmp_path, trials=6)).verdict == cl.HOLDS
    falls = _peak(_tables(tmp_path, phone=[0.2, 0.3, 0.4, 0.5, 0.6], trials=3))
    assert falls.verdict == cl.UNMEASURED and falls.value == pytest.approx(-10.0)


def test_a_peak_smaller_than_min_peak_is_no_peak(tmp_path):
    """(e) The sign flips test the sign, not the size: a top a quarter of a point below layer 2 in
    every one of 6 trials (a near-copy of the layer below, as the layer-wise null twin's top) is
    a peak by the sign-flip null alone (p 1/64); below MIN_PEAK in every trial it does not hold,
    and a peak whose smallest trial is below MIN_PEAK is not measurable."""
    near_copy = _tables(tmp_path, phone=[0.2, 0.5, 0.7, 0.6, 0.6975], spread=0.0002, trials=6)
    f = _peak(near_copy)
    assert f.value == pytest.approx(0.25) and (f.ci_low, f.ci_high) == pytest.approx((0.15, 0.35))
    assert f.value > f.chance_high and "p above 0.0156" in f.why
    assert f.verdict == cl.FAILS and f.why.startswith("no trial puts layer 2 1 point or more above the top")
    assert MIN_PEAK == 1.0
    straddles = _peak(_tables(tmp_path, phone=[0.2, 0.5, 0.7, 0.6, 0.685], spread=0.002, trials=6))
    assert (straddles.ci_low, straddles.ci_high) == pytest.approx((0.5, 2.5))
    assert straddles.verdict == cl.UNMEASURED and "smallest trial (+0.50) is below 1 point" in straddles.why
    # too few trials stay not measurable, whatever the size
    few = _tables(tmp_path, phone=[0.2, 0.5, 0.7, 0.6, 0.6975], spread=0.0002, trials=3)
    assert _peak(few).verdict == cl.UNMEASURED


def test_phone_peak_at_the_top_or_at_the_input_on_dev_does_not_hold(tmp_path):
    f = _peak(_tables(tmp_path, phone=[0.2, 0.3, 0.4, 0.5, 0.6]))
    assert f.verdict == cl.FAILS and f.value == pytest.approx(-10.0)
    f = _peak(_tables(tmp_path, phone=[0.8, 0.5, 0.4, 0.3, 0.2]))
    assert f.verdict == cl.FAILS and f.value > 0 and "layer 0" in f.why
    # layer 0 is highest on dev only: the rule reads dev, as the choice of l* does
    f = _peak(_tables(tmp_path, dev_shift={0: 0.6}))
    assert f.verdict == cl.FAILS and "on dev is highest at layer 0" in f.why


def test_phone_peak_not_measurable_when_trials_disagree_or_layers_are_missing(tmp_path):
    t = _tables(tmp_path, phone=[0.2, 0.5, 0.61, 0.6, 0.6], spread=0.1)
    assert _peak(t).verdict == cl.UNMEASURED  # trials straddle 0
    t = _tables(tmp_path)
    top = _peak(t, 6)  # trajectories.layers stopped below the top
    assert top.verdict == cl.UNMEASURED and "top layer 6 was not measured" in top.why
    one = _tables(tmp_path, phone=[0.2, 0.5], mel=[0.8, 0.5])  # a one-layer model has no inner layer
    assert "no inner layer" in _peak(one, 1).why
    no_phone = _tables(tmp_path, views=("mel",))
    assert "no phone PWCCA" in _peak(no_phone).why
    assert claim_phone_peak(None, None, L, **CHANCE).verdict == cl.UNMEASURED
    no_trials = claim_phone_peak(t["pwcca"], None, L, **CHANCE)
    assert no_trials.verdict == cl.UNMEASURED and "chosen on the dev parts" in no_trials.why
    old = claim_phone_peak(t["pwcca"], t["trials"].drop(columns="dev_pwcca"), L, **CHANCE)  # an old table
    assert old.verdict == cl.UNMEASURED and "has no dev_pwcca" in old.why and math.isnan(old.value)


def test_top_layers_turn_back_needs_a_fall_then_a_rise(tmp_path):
    f = claim_top_turns_back(_tables(tmp_path)["findings"], L)
    assert f.verdict == cl.HOLDS and f.value == pytest.approx(20.0) and "front-end view" in f.why
    assert (f.ci_low, f.ci_high) == pytest.approx((13.0, 27.0))  # 8 trials: 20 -+ 3.5 * 0.01 * (4 - 2) * 100
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
    out = trajectory_findings(t["findings"], t["pwcca"], t["trials"], _reset([50, 45], [40, 38], [0, -5]), L, **CHANCE)
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
