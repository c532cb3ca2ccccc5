"""Tables with bootstrap intervals over utterances: known answers on constructed evaluations."""

import numpy as np
import pandas as pd
import pytest
import torch

from speechneurons.saes import SparseAutoencoder, evaluate_sae
from speechneurons.saes.evaluation import GroupSums, SaeEvaluation, load_evaluations, save_evaluations, zipf_fit
from speechneurons.saes.tables import claims_table, evaluation_table, units_table
from tests.helpers.sparse_dictionary import sae_settings, sparse_dictionary_data

G, F = 6, 8


def _ev(arch, k, fvu, l0, dead=0):
    """Every utterance alike (so every bootstrap resample gives the point estimate): 10 rows,
    dev 1 per row, sse fvu per row, L0 l0 per row; the last ``dead`` latents never fire."""
    rows = np.full(G, 10)
    fired = np.ones((G, F), dtype=np.int32)
    fired[:, F - dead :] = 0
    density = fired.sum(0) / rows.sum()
    return SaeEvaluation(architecture=arch, k=k, inference="threshold", n_tokens=int(rows.sum()), n_latents=F,
                         fvu=fvu, l0_mean=l0, l0_quantiles=dict.fromkeys((0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0), l0),
                         l0_histogram=np.zeros(3, np.int64), dead_share=dead / F, density=density,
                         zipf=zipf_fit(density),
                         groups=GroupSums(sse=fvu * rows.astype(float), dev=rows.astype(float),
                                          l0=l0 * rows.astype(float), rows=rows, fired=fired))  # fmt: skip


def test_claims_known_answers():
    evs = {(3, "topk", 8): _ev("topk", 8, 0.2, 8.0, dead=4), (3, "topk", 16): _ev("topk", 16, 0.1, 16.0, dead=4),
           (3, "topk", 32): _ev("topk", 32, 0.05, 32.0, dead=4),
           (3, "mutual_choice", 16): _ev("mutual_choice", 16, 0.08, 12.0, dead=2),
           (3, "feature_choice", 16): _ev("feature_choice", 16, 0.12, 16.0, dead=0),
           (3, "feature_choice", 8): _ev("feature_choice", 8, 0.5, 4.0, dead=0)}  # fmt: skip
    claims = claims_table(evs, 16, resamples=50, seed=0, level=0.95).set_index(["claim", "architecture", "k"])
    dead = claims.loc["dead_share", "mutual_choice", 16]
    assert dead.value == 0.25 and dead.reference == 0.5 and dead.delta == -0.25 and np.isnan(dead.delta_ci_low)
    assert dead.holds and claims.loc["dead_share", "feature_choice", 16].holds  # none dead
    mc = claims.loc["fvu_at_equal_l0", "mutual_choice", 16]
    expected = np.exp(np.interp(np.log(12), np.log([8, 16]), np.log([0.2, 0.1])))  # TopK at L0 12
    assert mc.reference == pytest.approx(expected) and mc.delta == pytest.approx(0.08 - expected)
    assert mc.delta_ci_low == pytest.approx(mc.delta) and mc.holds
    assert not claims.loc["fvu_at_equal_l0", "feature_choice", 16].holds  # 0.12 > 0.1 at L0 16
    assert np.isnan(claims.loc["fvu_at_equal_l0", "feature_choice", 8].reference)  # L0 4: below TopK's range


def test_evaluation_group_sums_add_up_and_round_trip(tmp_path):
    torch.set_num_threads(1)
    data = sparse_dictionary_data(n=600)
    sae = SparseAutoencoder.build(32, sae_settings("topk", k=3), torch.Generator().manual_seed(0))
    groups = np.repeat(np.arange(6), 100)
    ev = evaluate_sae(sae, data.x, batch_size=128, groups=groups)
    g = ev.groups
    assert np.isclose(g.sse.sum() / g.dev.sum(), ev.fvu) and np.isclose(g.l0.sum() / g.rows.sum(), ev.l0_mean)
    assert np.array_equal(g.fired.sum(0), (ev.density * 600).round().astype(int))
    table = evaluation_table({(1, "topk", 3): ev}, resamples=200, seed=0, level=0.95)
    assert table.fvu_ci_low.iloc[0] <= ev.fvu <= table.fvu_ci_high.iloc[0]
    save_evaluations(tmp_path / "e.npz", {3: ev}, np.ones(F))
    loaded, train = load_evaluations(tmp_path / "e.npz", pd.DataFrame([ev.summary()]))
    assert np.array_equal(loaded[3].groups.fired, g.fired) and loaded[3].fvu == ev.fvu and train.size == F


def test_units_table_counts_with_chance_levels():
    doc = {
        "D": 100,
        "tau": 1,
        "group_neurons": {"gender": {"F": [1, 2], "M": [2]}},
        "exclusive_group_neurons": {"gender": {"F": [1], "M": []}},
        "property_neurons": {"gender": [1]},
    }
    null = pd.DataFrame([dict(seed=s, property="gender", group=g, n_group_neurons=0, n_exclusive=0,
                              n_property_neurons=s % 2) for s in range(4) for g in ("F", "M")])  # fmt: skip
    t = units_table({(2, "topk"): doc}, {(2, "topk"): null}, {(2, "topk"): 0.01}).set_index("group")
    assert t.loc["F", "n_group"] == 2 and t.loc["F", "exclusive_share"] == 0.5
    assert t.loc["", "n_exclusive"] == 1 and t.loc["", "chance_mean"] == 0.5
    assert t.loc["", "p_value"] == pytest.approx((1 + 2) / 5) and t.loc["F", "p_value"] == pytest.approx(1 / 5)


def test_features_vs_neurons_sums_units_and_reads_each_erasure_with_its_control():
    from speechneurons.saes.tables import features_vs_neurons

    units = pd.DataFrame({"property": ["gender"] * 4, "group": ["F"] * 4, "layer": [1, 2, 1, 2],
                          "units": ["neurons", "neurons", "topk", "topk"], "n_units": [64, 64, 128, 128],
                          "n_group": [4, 2, 10, 6], "n_exclusive": [2, 2, 8, 4],
                          "chance_mean": [0.5, 0.5, 1.0, 2.0]})  # fmt: skip
    erasure = pd.DataFrame({"erasure": ["gender-F"] * 3, "units": ["neurons", "topk", "topk"],
                            "own_task": [True, True, False], "nothing_erased": [False] * 3,
                            "task": ["gender", "gender", "sid"], "layer": [2, 2, 2], "value": [10.0, 12.0, 5.0],
                            "delta": [1.0, 3.0, 0.0], "delta_ci_low": [0.0, 1.0, -1.0],
                            "delta_ci_high": [2.0, 5.0, 1.0], "vs_control": [0.5, 2.0, 0.0],
                            "vs_control_ci_low": [-0.5, 0.5, -1.0], "vs_control_ci_high": [1.5, 3.5, 1.0],
                            "matched_on": ["in_group rate"] * 3, "control_balanced": [1.0, 0.0, 0.0]})  # fmt: skip
    t = features_vs_neurons(units, erasure, ["gender-F"], [1, 2]).set_index("units")
    assert t.loc["neurons", "n_exclusive"] == 4 and t.loc["topk", "n_exclusive"] == 12
    assert t.loc["topk", "share_pct"] == 100 * 12 / 256 and t.loc["topk", "exclusive_share"] == 12 / 16
    assert t.loc["topk", "chance_mean"] == 3.0
    assert t.loc["topk", "gender_L2_delta"] == 3.0 and t.loc["topk", "gender_L2_vs_control"] == 2.0
    assert t.loc["topk", "gender_L2_vs_control_ci"] == "0.5..3.5"
    assert "sid_L2_delta" not in t  # not the group's own task
    assert t.loc["neurons", "matched_on"] == "in_group rate"
    assert t.loc["neurons", "control_balanced"] == 1.0 and t.loc["topk", "control_balanced"] == 0.0
