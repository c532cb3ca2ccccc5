"""Adaptive computation (per-token L0 against difficulty), L0 by frame class and boundary
distance, and the Zipf rows of claims.tsv, with known answers."""

import numpy as np
import pandas as pd
import torch

from speechneurons.saes import SparseAutoencoder, evaluate_sae
from speechneurons.saes.adaptive import (
    adaptive_claims,
    adaptive_correlation,
    boundary_distance,
    frame_class,
    l0_by_frame,
    token_frames,
    within_group_permutations,
)
from speechneurons.saes.evaluation import _sample_power_law, load_evaluations, load_held_rows, save_evaluations
from speechneurons.saes.plots import plot_l0_by_frame
from speechneurons.saes.tables import zipf_claims
from tests.helpers.sparse_dictionary import sae_settings

RESAMPLES = 200


def _utterances(n_utt=40, per=50, seed=0):
    rng = np.random.default_rng(seed)
    return np.repeat(np.arange(n_utt), per), rng


def test_harder_tokens_with_more_latents_beat_the_within_utterance_null():
    groups, rng = _utterances()
    difficulty = rng.gamma(2.0, size=len(groups))
    l0 = np.round(10 + 4 * np.log(difficulty) + rng.normal(0, 1, len(groups)))  # planted: more latents when harder
    r = adaptive_correlation(l0, difficulty, groups, RESAMPLES, RESAMPLES, 0, 0.95)
    assert r["rho"] > 0.7 and r["ci_low"] > 0 and r["rho"] > r["chance_high"] and r["p"] < 0.01
    assert r["ci_low"] < r["rho"] < r["ci_high"] and r["n_tokens"] == 2000 and r["n_groups"] == 40
    # the opposite planted: fewer latents when harder
    neg = adaptive_correlation(-l0, difficulty, groups, RESAMPLES, RESAMPLES, 0, 0.95)
    assert neg["ci_high"] < 0 and neg["rho"] < neg["chance_low"]


def test_a_correlation_that_utterances_alone_give_stays_within_chance():
    groups, rng = _utterances()
    utt = rng.normal(0, 2, groups.max() + 1)[groups]  # loud utterances: harder AND more latents
    difficulty = np.exp(utt + rng.normal(0, 0.3, len(groups)))
    l0 = np.round(20 + 3 * utt + rng.normal(0, 0.5, len(groups)))  # independent of difficulty within utterances
    r = adaptive_correlation(l0, difficulty, groups, RESAMPLES, RESAMPLES, 0, 0.95)
    assert r["rho"] > 0.5 and r["ci_low"] > 0  # pooled, it looks adaptive ...
    assert r["chance_low"] <= r["rho"] <= r["chance_high"]  # ... but the within-utterance null gives as much
    # a constant L0 (TopK) has no correlation
    assert np.isnan(adaptive_correlation(np.full(len(groups), 8), difficulty, groups, 10, 10, 0, 0.95)["rho"])


def test_harder_tokens_get_more_latents_at_the_same_size_but_size_alone_is_not_adaptive():
    groups, rng = _utterances()
    size = rng.gamma(3.0, size=len(groups))  # ||x - mean||^2
    # size alone: the error and L0 both grow with the token's size, nothing else (the Gaussian twin's pattern)
    sse = size * rng.uniform(0.2, 0.4, len(groups))
    l0 = np.round(4 + 2 * np.log(size) + rng.normal(0, 0.5, len(groups)))
    plain = adaptive_correlation(l0, sse, groups, RESAMPLES, RESAMPLES, 0, 0.95)
    assert plain["rho"] > 0.6 and plain["ci_low"] > 0  # the plain correlation reads the size ...
    r = adaptive_correlation(l0, sse, groups, RESAMPLES, RESAMPLES, 0, 0.95, size=size)
    assert abs(r["rho"]) < 0.06 and r["ci_low"] < 0 < r["ci_high"]  # ... the partial one does not
    # planted: at the same size, the harder tokens (more of their size left unexplained) get more latents
    hard = rng.uniform(0.2, 0.4, len(groups))
    l0 = np.round(4 + 2 * np.log(size) + 20 * hard + rng.normal(0, 0.5, len(groups)))
    r = adaptive_correlation(l0, size * hard, groups, RESAMPLES, RESAMPLES, 0, 0.95, size=size)
    assert r["rho"] > 0.5 and r["ci_low"] > 0 and r["rho"] > r["chance_high"] and r["p"] < 0.01
    # and the opposite planted reads negative
    r = adaptive_correlation(-l0, size * hard, groups, RESAMPLES, RESAMPLES, 0, 0.95, size=size)
    assert r["ci_high"] < 0


def test_within_group_permutations_move_rows_only_inside_their_group():
    groups = np.array([2, 0, 2, 1, 0, 2, 1, 1])
    perms = within_group_permutations(groups, 20, 3)
    for perm in perms:
        assert sorted(perm) == list(range(8)) and (groups[perm] == groups).all()
    assert len({tuple(p) for p in perms}) > 1  # not the identity every time


def test_boundary_distance_and_frame_class():
    labels = pd.DataFrame(
        dict(
            utt_id=["a"] * 7 + ["b"] * 3,
            frame=list(range(7)) + [0, 1, 2],
            phone=["sil", "sil", "AA1", "AA1", "AA1", "S", "sil"] + ["sil"] * 3,
        )
    )
    d = boundary_distance(labels)
    # the utterance's first frame is no boundary; the single-segment utterance has none at all
    assert d["boundary_distance"].tolist()[:7] == [1, 0, 0, 1, 0, 0, 0]
    assert d["boundary_distance"].iloc[7:].isna().all()
    assert [frame_class(p) for p in ("sil", "AA1", "S", "N", "spn")] == [
        "silence",
        "vowel",
        "unvoiced_consonant",
        "voiced_consonant",
        "other",
    ]
    index = labels.iloc[[6, 3, 0]].assign(split="test")  # the dump's index, held-out rows in any order
    tok = token_frames(index, np.array([1, 0, 2]), labels)
    assert tok["frame"].tolist() == [3, 6, 0] and tok["boundary_distance"].tolist() == [1, 0, 1]
    assert tok["frame_class"].tolist() == ["vowel", "silence", "silence"]


def _tokens(n_utt=30, per=40, seed=0):
    rng = np.random.default_rng(seed)
    phones = rng.choice(["sil", "AA", "IY", "B", "S"], size=n_utt * per)
    return pd.DataFrame(
        dict(
            utt_id=np.repeat([f"u{i}" for i in range(n_utt)], per),
            frame=np.tile(np.arange(per), n_utt),
            phone=phones,
            frame_class=[frame_class(p) for p in phones],
            boundary_distance=rng.integers(0, 8, n_utt * per).astype(float),
        )
    ), rng


def test_l0_by_frame_finds_the_planted_class_and_distance_effects(tmp_path):
    tok, rng = _tokens()
    vowel = (tok["frame_class"] == "vowel").to_numpy()
    near = (tok["boundary_distance"] == 0).to_numpy()
    l0 = 10 + 6 * vowel + 3 * near + rng.normal(0, 1, len(tok))
    table = l0_by_frame(tok, {"mutual_choice": l0, "feature_choice": np.full(len(tok), 12.0)}, 100, 0, 0.95)
    mc = table[table.architecture == "mutual_choice"].set_index(["grouping", "level"])
    v, s = mc.loc[("frame class", "vowel")], mc.loc[("frame class", "silence")]
    assert v.l0_ci_low > s.l0_ci_high and abs(v.l0_mean - s.l0_mean - 6 - 3 * 0) < 1.0
    b0, b3 = mc.loc[("boundary distance", "0")], mc.loc[("boundary distance", "3")]
    assert b0.l0_ci_low > b3.l0_ci_high
    assert mc.loc[("boundary distance", "5+"), "n_tokens"] == int((tok["boundary_distance"] >= 5).sum())
    fc = table[table.architecture == "feature_choice"]
    assert np.allclose(fc.l0_mean, 12.0) and np.allclose(fc.relative, 1.0)  # no effect where none is planted
    plot_l0_by_frame(table.assign(layer=3), tmp_path / "l0_by_frame.png", 20.0)
    assert (tmp_path / "l0_by_frame.png").stat().st_size > 1000


def _identity_sae(d: int, k: int, arch: str = "topk") -> SparseAutoencoder:
    sae = SparseAutoencoder.build(d, sae_settings(arch, k=k, expansion_factor=1.0))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
    return sae.eval()


def test_evaluation_keeps_per_token_l0_and_error_through_its_file(tmp_path):
    x = np.abs(np.random.default_rng(0).normal(size=(50, 6))).astype(np.float32)
    groups = np.repeat(np.arange(5), 10)
    ev = evaluate_sae(_identity_sae(6, 2), x, batch_size=16, groups=groups)
    resid = x.copy()
    top = np.argsort(-x, axis=1)[:, :2]
    np.put_along_axis(resid, top, 0.0, axis=1)
    assert np.allclose(ev.token_sse, (resid**2).sum(1), rtol=1e-5) and (ev.token_l0 == 2).all()
    assert np.isclose(ev.token_sse.sum() / ((x - x.mean(0)) ** 2).sum(), ev.fvu, rtol=1e-5)
    assert np.allclose(ev.token_dev, ((x - x.mean(0)) ** 2).sum(1), rtol=1e-5)
    save_evaluations(tmp_path / "e.npz", {2: ev}, held_rows=np.arange(100, 150))
    loaded, _ = load_evaluations(tmp_path / "e.npz", pd.DataFrame([ev.summary()]))
    assert np.array_equal(loaded[2].token_l0, ev.token_l0) and np.array_equal(loaded[2].token_sse, ev.token_sse)
    assert np.array_equal(loaded[2].token_dev, ev.token_dev) and loaded[2].zipf == ev.zipf  # the fit read, not redone
    assert load_held_rows(tmp_path / "e.npz").tolist() == list(range(100, 150))


class _Ev:
    def __init__(self, l0=None, sse=None, l0_mean=8.0, zipf=None, dev=None):
        self.token_l0, self.token_sse, self.l0_mean, self.zipf = l0, sse, l0_mean, zipf
        self.token_dev = dev


def test_adaptive_claims_rows_hold_only_for_the_planted_architecture():
    tok, rng = _tokens()
    difficulty = rng.gamma(2.0, size=len(tok))
    evals = {
        (3, "topk", 8): _Ev(np.full(len(tok), 8), difficulty, dev=rng.gamma(3.0, size=len(tok))),
        (3, "mutual_choice", 8): _Ev(np.round(8 + 3 * np.log(difficulty)), None),
        (3, "feature_choice", 8): _Ev(rng.integers(4, 12, len(tok)), None),
    }
    rows = adaptive_claims(evals, {3: tok}, 8, ("mutual_choice", "feature_choice"), 100, 100, 0, 0.95)
    got = rows.set_index("architecture")
    assert got.loc["mutual_choice", "holds"] and not got.loc["feature_choice", "holds"]
    assert got.loc["feature_choice", "delta_ci_low"] < 0 < got.loc["feature_choice", "delta_ci_high"]
    assert set(rows["claim"]) == {"adaptive_l0"} and (rows["reference"] == 8.0).all()


def test_zipf_rows_accept_a_power_law_and_reject_geometric_counts():
    from speechneurons.saes.evaluation import zipf_fit

    rng = np.random.default_rng(1)
    n = 100_000
    power = zipf_fit(_sample_power_law(2.2, 1000, rng) / n, n, n_boot=50)
    geometric = zipf_fit(rng.geometric(0.02, 1000) / n, n, n_boot=50)
    evals = {(3, "topk", 8): _Ev(zipf=power), (3, "mutual_choice", 8): _Ev(zipf=geometric), (3, "topk", 16): _Ev()}
    rows = zipf_claims(evals, 8, 0.95).set_index("architecture")
    assert (
        rows.loc["topk", "holds"] and rows.loc["topk", "p_value"] >= 0.05 and abs(rows.loc["topk", "value"] - 2.2) < 0.2
    )
    assert not rows.loc["mutual_choice", "holds"] and rows.loc["mutual_choice", "p_value"] < 0.05
    assert len(rows) == 2 and (rows["n_alive"] == 1000).all()
