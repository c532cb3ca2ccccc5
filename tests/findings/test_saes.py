"""Verdicts on the SAE claims from claims.tsv tables with known answers."""

from __future__ import annotations

import math

import pandas as pd

from speechneurons.findings import claims as cl
from speechneurons.findings.saes import (
    claim_adaptive,
    claim_fvu_at_equal_l0,
    claim_no_dead_latents,
    claim_zipf,
    sae_findings,
)


def _claims(dead_fc=(0.0, 0.0), delta=-0.01, width=0.004) -> pd.DataFrame:
    rows = []
    for layer, dead in zip((1, 3), dead_fc):
        rows.append(
            dict(
                layer=layer,
                claim="dead_share",
                architecture="feature_choice",
                k=32,
                l0_mean=30.0,
                value=dead,
                reference=0.4,
                delta=dead - 0.4,
            )
        )
        rows.append(
            dict(
                layer=layer,
                claim="dead_share",
                architecture="mutual_choice",
                k=32,
                l0_mean=30.0,
                value=0.5,
                reference=0.4,
                delta=0.1,
            )
        )
    for arch in ("mutual_choice", "feature_choice"):
        rows.append(
            dict(
                layer=3,
                claim="fvu_at_equal_l0",
                architecture=arch,
                k=32,
                l0_mean=30.0,
                value=0.1 + delta,
                reference=0.1,
                delta=delta,
                delta_ci_low=delta - width,
                delta_ci_high=delta + width,
            )
        )
        rows.append(
            dict(
                layer=3,
                claim="fvu_at_equal_l0",
                architecture=arch,
                k=16,
                l0_mean=14.0,
                value=0.2,
                reference=math.nan,
                delta=math.nan,
                delta_ci_low=math.nan,
                delta_ci_high=math.nan,
            )
        )
    return pd.DataFrame(rows)


def test_no_dead_latents_reads_the_count():
    assert claim_no_dead_latents(_claims((0.0, 0.0))).verdict == cl.HOLDS
    f = claim_no_dead_latents(_claims((0.0, 0.03)))
    assert f.verdict == cl.FAILS and f.value == 3.0 and "layer 3" in f.why and "every layer: yes" in f.why


def test_fvu_at_equal_l0_is_an_improvement_with_its_interval():
    f = claim_fvu_at_equal_l0("mutual_choice", _claims(delta=-0.01), 32)
    assert f.verdict == cl.HOLDS and f.value == 1.0 and (round(f.ci_low, 6), round(f.ci_high, 6)) == (0.6, 1.4)
    assert claim_fvu_at_equal_l0("mutual_choice", _claims(delta=0.01), 32).verdict == cl.FAILS
    assert claim_fvu_at_equal_l0("mutual_choice", _claims(delta=0.001), 32).verdict == cl.UNMEASURED
    # a k whose point lies outside TopK's L0 range has no comparison
    assert claim_fvu_at_equal_l0("mutual_choice", _claims(), 16).verdict == cl.UNMEASURED


def test_no_saes_no_rows():
    assert sae_findings(pd.DataFrame(), 32) == []
    found = sae_findings(_claims(), 32)
    assert len(found) == 6  # without zipf or adaptive_l0 rows, those claims are not measurable
    assert [f.verdict for f in found[3:]] == [cl.UNMEASURED] * 3


def test_an_sae_still_converging_makes_its_claims_untestable():
    from speechneurons.findings.verdict import CANNOT_TEST

    converged = _claims(delta=-0.01).assign(fvu_change_last_tenth=0.004)
    assert claim_fvu_at_equal_l0("mutual_choice", converged, 32, 0.01).verdict == cl.HOLDS
    assert claim_no_dead_latents(converged, 0.01).verdict == cl.HOLDS
    falling = converged.assign(fvu_change_last_tenth=0.05)  # FVU still fell 5 % over the last tenth
    for f in (claim_fvu_at_equal_l0("mutual_choice", falling, 32, 0.01), claim_no_dead_latents(falling, 0.01)):
        assert f.verdict == cl.UNMEASURED and CANNOT_TEST in f.why and "under-trained" in f.why and "5.0 %" in f.why
    # without a tolerance (or a convergence column) nothing changes
    assert claim_fvu_at_equal_l0("mutual_choice", falling, 32).verdict == cl.HOLDS


def test_convergence_column_takes_the_worst_sae_of_each_layer():
    from speechneurons.saes.tables import add_convergence

    def log(fvus, k):
        return pd.DataFrame({"step": [90, 100], "heldout_fvu": fvus, "k": k})

    logs = {(3, "topk"): pd.concat([log([0.5, 0.5], 8), log([0.6, 0.3], 16)]), (3, "mutual_choice"): log([0.4, 0.4], 8)}
    out = add_convergence(pd.DataFrame({"layer": [3, 5]}), logs)
    assert abs(out["fvu_change_last_tenth"].iloc[0] - 0.5) < 1e-12 and pd.isna(out["fvu_change_last_tenth"].iloc[1])


def _zipf(p_topk=0.4, n_alive=400, lr=50.0, lr_p=0.001) -> pd.DataFrame:
    rows = [dict(layer=layer, claim="zipf", architecture=arch, k=32, l0_mean=30.0, value=2.1, reference=0.02,
                 p_value=p_topk if arch == "topk" else 0.01, n_alive=n_alive, x_min=12.0, n_tail=n_alive // 2 + 1,
                 lr_exponential=lr, lr_p=lr_p)
            for layer in (1, 3) for arch in ("topk", "mutual_choice")]  # fmt: skip
    return pd.concat([_claims(), pd.DataFrame(rows)], ignore_index=True)


def test_zipf_reads_the_goodness_of_fit_test_on_the_sweep_layer():
    f = claim_zipf(_zipf(0.4), 32, 0.95)
    assert f.verdict == cl.HOLDS and f.value == 2.1 and "layer 3" in f.why and "mutual choice 0.010" in f.why
    assert claim_zipf(_zipf(0.01), 32, 0.95).verdict == cl.FAILS  # rejected
    assert claim_zipf(_zipf(0.4, n_alive=10), 32, 0.95).verdict == cl.UNMEASURED  # too few latents to test
    assert "x_min 12, 201 latents in the tail" in f.why
    # not rejected, but an exponential tail fits as well: no evidence of a Zipf law
    assert claim_zipf(_zipf(0.4, lr=-1.4, lr_p=0.49), 32, 0.95).verdict == cl.UNMEASURED
    assert claim_zipf(_zipf(0.4, lr=-30.0, lr_p=0.001), 32, 0.95).verdict == cl.FAILS  # the exponential wins


def _adaptive(rho=0.3, width=0.05, chance=(-0.02, 0.02)) -> pd.DataFrame:
    rows = [dict(layer=layer, claim="adaptive_l0", architecture=arch, k=32, l0_mean=31.0, value=rho, reference=32.0,
                 delta=rho, delta_ci_low=rho - width, delta_ci_high=rho + width, chance_low=chance[0],
                 chance_high=chance[1], p_value=0.001, n_tokens=5000)
            for layer in (1, 3) for arch in ("mutual_choice", "feature_choice")]  # fmt: skip
    return pd.concat([_claims(), pd.DataFrame(rows)], ignore_index=True)


def test_adaptive_computation_uses_the_symmetric_rule_with_the_within_utterance_null():
    f = claim_adaptive("mutual_choice", _adaptive(0.3), 32)
    assert f.verdict == cl.HOLDS and round(f.value, 6) == 30.0 and (f.chance_low, f.chance_high) == (-2.0, 2.0)
    assert "layer 3" in f.why and "other layers: layer 1" in f.why
    assert claim_adaptive("mutual_choice", _adaptive(-0.3), 32).verdict == cl.FAILS
    # above 0, but no more than utterance-level differences give (the within-utterance chance range)
    assert claim_adaptive("feature_choice", _adaptive(0.3, chance=(0.25, 0.4)), 32).verdict == cl.UNMEASURED
    assert claim_adaptive("feature_choice", _adaptive(0.01), 32).verdict == cl.UNMEASURED


def _layer_row(layer, delta, width=0.004, arch="mutual_choice"):
    return dict(layer=layer, claim="fvu_at_equal_l0", architecture=arch, k=32, l0_mean=30.0, value=0.1 + delta,
                reference=0.1, delta=delta, delta_ci_low=delta - width, delta_ci_high=delta + width)  # fmt: skip


def test_fvu_at_equal_l0_is_read_at_every_sae_layer():
    base = _claims(delta=-0.01)  # layer 3: +1.0 [0.6, 1.4]
    both = pd.concat([base, pd.DataFrame([_layer_row(1, -0.02)])], ignore_index=True)
    f = claim_fvu_at_equal_l0("mutual_choice", both, 32)
    # holds at both layers: the weaker one (layer 3) is shown, both listed
    assert f.verdict == cl.HOLDS and f.value == 1.0 and "shown: layer 3" in f.why
    assert "layer 1: +2.00 [+1.60, +2.40]" in f.why and "layer 3: +1.00 [+0.60, +1.40]" in f.why
    # worse at layer 1: the claim does not hold, whatever layer 3 says
    worse = pd.concat([base, pd.DataFrame([_layer_row(1, 0.02)])], ignore_index=True)
    f = claim_fvu_at_equal_l0("mutual_choice", worse, 32)
    assert f.verdict == cl.FAILS and f.value == -2.0 and "shown: layer 1" in f.why
    # inside 0 at layer 1: not measurable, that layer shown
    flat = pd.concat([base, pd.DataFrame([_layer_row(1, 0.001)])], ignore_index=True)
    f = claim_fvu_at_equal_l0("mutual_choice", flat, 32)
    assert f.verdict == cl.UNMEASURED and "shown: layer 1" in f.why
    # a layer with SAEs but no comparison is named
    assert "no comparison at layer(s) 1" in claim_fvu_at_equal_l0("mutual_choice", base, 32).why
