"""Structured FFN pruning: score formula, strategies, budget, and the saved smaller model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechneurons.experiments.pruning import (
    choose_pruned,
    ffn_pairs,
    neuron_scores,
    plan_pruning,
    plan_table,
    prune_count,
    prune_model_,
)


def _layer(w1, b1, w2):
    fc1 = torch.nn.Linear(len(w1[0]), len(w1))
    fc2 = torch.nn.Linear(len(w2[0]), len(w2))
    with torch.no_grad():
        fc1.weight.copy_(torch.tensor(w1, dtype=torch.float32))
        fc1.bias.copy_(torch.tensor(b1, dtype=torch.float32))
        fc2.weight.copy_(torch.tensor(w2, dtype=torch.float32))
    return fc1, fc2


def test_score_formula_on_hand_made_layer():
    # D = 3 neurons, H = 2: s_j = |W1[j,:]|_1 + |b1[j]| + |W2[:,j]|_1
    fc1, fc2 = _layer([[1, -2], [0, 0.5], [-3, 1]], [0.5, -1, 0], [[1, 0, -1], [2, -0.5, 0]])
    s = neuron_scores(fc1, fc2).numpy()
    np.testing.assert_allclose(s, [3 + 0.5 + 3, 0.5 + 1 + 0.5, 4 + 0 + 1])


def test_prune_count_rounds_and_keeps_one_neuron():
    assert prune_count(3072, 0.25) == 768
    assert prune_count(10, 0.25) == 3  # round(2.5) half up
    assert prune_count(10, 0.9) == 9
    assert prune_count(2, 0.9) == 1
    assert prune_count(5, 0.0) == 0
    with pytest.raises(ValueError):
        prune_count(10, 1.0)


def test_norm_prunes_lowest_scores_ties_by_index():
    scores = np.array([5.0, 1.0, 3.0, 1.0, 9.0])
    c = choose_pruned(scores, 3, "norm")
    assert c.pruned.tolist() == [1, 2, 3]
    assert c.keep.tolist() == [0, 4]


def test_protect_never_prunes_protected_while_budget_allows():
    rng = np.random.default_rng(0)
    scores = rng.random(100)
    protected = np.argsort(scores)[:30]  # the 30 lowest scores: norm would prune them first
    for k in range(0, 71):
        c = choose_pruned(scores, k, "protect", protected)
        assert c.n_protected == 30
        assert c.n_protected_pruned == 0
        assert not set(c.pruned) & set(protected.tolist())
        # the unprotected ones go lowest first
        unprot = np.setdiff1d(np.arange(100), protected)
        assert set(c.pruned) == set(unprot[np.argsort(scores[unprot])][:k].tolist())
    assert choose_pruned(scores, 25, "norm", protected).n_protected_pruned == 25


def test_protect_beyond_budget_prunes_lowest_protected_last():
    scores = np.array([0.1, 0.2, 5.0, 4.0, 3.0, 0.3])
    protected = [0, 1, 5, 4]  # 2 unprotected: 2, 3
    c = choose_pruned(scores, 4, "protect", protected)
    # both unprotected, then the two lowest protected (0 and 1)
    assert c.pruned.tolist() == [0, 1, 2, 3]
    assert c.n_protected_pruned == 2


def test_random_is_seeded_and_nested():
    scores = np.zeros(50)
    a = choose_pruned(scores, 10, "random", seed=3, layer=2)
    b = choose_pruned(scores, 10, "random", seed=3, layer=2)
    c = choose_pruned(scores, 20, "random", seed=3, layer=2)
    d = choose_pruned(scores, 10, "random", seed=4, layer=2)
    assert a.pruned.tolist() == b.pruned.tolist()
    assert set(a.pruned) <= set(c.pruned)
    assert a.pruned.tolist() != d.pruned.tolist()
    with pytest.raises(ValueError):
        choose_pruned(scores, 10, "magnitude")


def _tiny_model(seed=0):
    from transformers import HubertModel

    from tests.helpers.models import tiny_config

    torch.manual_seed(seed)
    return HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64)).eval()


@pytest.mark.parametrize("strategy", ["norm", "protect", "random"])
def test_pruned_model_is_smaller_and_matches_masked(tmp_path, strategy):
    from speechneurons.model.ffn import mask_ffn
    from speechneurons.model.registry import load_model

    model = _tiny_model()
    protected = {1: [0, 1, 2, 3], 2: list(range(10, 40))}
    plan = plan_pruning(ffn_pairs(model), strategy, 0.5, protected, seed=0)
    table = plan_table(plan, strategy, 0.5)
    assert table["n_pruned"].tolist() == [32, 32]
    if strategy == "protect":
        assert table["n_protected_pruned"].tolist() == [0, 0]
    x = torch.randn(1, 4000)
    with torch.no_grad(), mask_ffn(model, {l: torch.as_tensor(c.pruned) for l, c in plan.items()}):
        masked = model(x, output_hidden_states=True).hidden_states
    n_before = sum(p.numel() for p in model.parameters())
    prune_model_(model, plan)
    assert sum(p.numel() for p in model.parameters()) == n_before - 2 * 32 * (32 + 1 + 32)
    model.save_pretrained(tmp_path / "pruned")
    loaded = load_model(str(tmp_path / "pruned"), "cpu")
    assert loaded.ffn_widths == [32, 32]
    with torch.no_grad():
        out = loaded.model(x, output_hidden_states=True).hidden_states
    for a, b in zip(masked, out):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_pruning_table_rows_and_counts():
    import pandas as pd

    from speechneurons.experiments.pruning import pruning_table

    def losses(err_m):
        return pd.DataFrame(
            dict(
                task="sid",
                layer=2,
                utt_id=[f"u{i}" for i in range(10)],
                speaker="s",
                gender="M",
                stratum="all",
                loss_sum=[1.0] * err_m + [0.0] * (10 - err_m),
                n_items=1,
            )
        )

    plan = pd.DataFrame(dict(layer=[1, 2], width=8, n_pruned=[4, 4], n_protected=[3, 1], n_protected_pruned=[0, 1]))
    keep = pd.DataFrame(dict(layer=[1, 2], width=8, n_pruned=[5, 7], n_protected=[3, 1], n_protected_pruned=[0, 0]))
    table = pruning_table(
        losses(2),
        {("norm", 0.5): losses(5), ("protect", 0.5): losses(3), ("keep_norm", None): losses(6),
         ("keep_property", None): losses(4)},
        {("norm", 0.5): plan, ("protect", 0.5): plan, ("keep_norm", None): keep, ("keep_property", None): keep},
        {"sid": {2: "last"}},
        resamples=50,
        seed=0,
        level=0.95,
    )  # fmt: skip
    keep_rows = table.set_index("strategy").loc[["keep_norm", "keep_property"]]
    assert (keep_rows["sparsity"] == 12 / 16).all()  # the share of neurons the keep strategies prune
    assert keep_rows.loc["keep_property", "vs_norm"] == pytest.approx(20.0)  # against keep_norm: 60 vs 40 % correct
    table = table[~table["strategy"].str.startswith("keep_")]
    t = table.set_index("strategy")
    assert list(t.index) == ["unpruned", "norm", "protect"]
    assert t.loc["unpruned", "value"] == pytest.approx(80.0)  # accuracy %
    assert t.loc["norm", "value"] == pytest.approx(50.0)
    assert t.loc["norm", "delta"] == pytest.approx(-30.0)
    assert t.loc["protect", "n_protected_pruned"] == 1 and t.loc["protect", "n_protected"] == 4
    assert t.loc["norm", "layer_role"] == "last"
    assert t.loc["protect", "vs_norm"] == pytest.approx(20.0)  # protect keeps 20 points more accuracy
    assert np.isnan(t.loc["norm", "vs_norm"])


@pytest.mark.slow
def test_continued_pretraining_keeps_pruned_widths_and_round_trips(tmp_path):
    import pandas as pd
    import soundfile as sf

    from speechneurons.model.pretrain import TrainSettings, continue_pretraining
    from speechneurons.model.registry import load_model
    from tests.helpers.config import default_settings

    model = _tiny_model()
    prune_model_(model, plan_pruning(ffn_pairs(model), "norm", 0.5))
    rng = np.random.default_rng(0)
    rows, targets = [], {}
    for i in range(4):
        path = tmp_path / f"u{i}.wav"
        sf.write(path, rng.normal(scale=0.1, size=16000).astype(np.float32), 16000)
        rows.append(dict(utt_id=f"u{i}", audio_path=str(path), speaker="s", gender="F", split="train"))
        targets[f"u{i}"] = rng.integers(0, 5, size=49)
    before = ffn_pairs(model)[1][0].weight.detach().clone()
    settings = default_settings(TrainSettings, "pretrain", batch_size=2, max_crop_s=0.5, mask_length=2)
    continue_pretraining(model, pd.DataFrame(rows), targets, 2, settings, progress=False)
    model.config.apply_spec_augment = False
    after = ffn_pairs(model)[1][0].weight.detach()
    assert after.shape == before.shape == (32, 32)
    assert not torch.equal(before, after)
    model.save_pretrained(tmp_path / "m")
    assert load_model(str(tmp_path / "m"), "cpu").ffn_widths == [32, 32]


def test_keep_plans_keep_exactly_the_set_or_the_same_widths_by_norm():
    from speechneurons.experiments.pruning import ffn_pairs, neuron_scores, plan_keep

    pairs = ffn_pairs(_tiny_model())
    keep = {1: [3, 7, 9], 2: []}
    plan = plan_keep(pairs, keep, protected=keep)
    assert sorted(plan[1].keep.tolist()) == [3, 7, 9]
    assert len(plan[2].keep) == 1  # a layer keeps at least one neuron
    assert plan[1].n_protected == 3 and plan[1].n_protected_pruned == 0
    by_norm = plan_keep(pairs, keep, by_norm=True)
    scores = neuron_scores(*pairs[1]).numpy()
    assert sorted(by_norm[1].keep.tolist()) == sorted(np.argsort(-scores, kind="stable")[:3].tolist())
