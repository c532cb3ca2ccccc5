"""Erasure: zeroing fc2 columns of a group's property neurons in every layer, and its control."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechneurons.experiments.erasure import erased
from speechneurons.experiments.pruning import ffn_pairs
from speechneurons.neuron_sets import group_neurons


def _tiny_model():
    from transformers import HubertModel

    from tests.helpers.models import tiny_config

    torch.manual_seed(0)
    return HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64)).eval()


NEURONS = {
    1: {"layer": 1, "D": 64, "exclusive_group_neurons": {"gender": {"F": [1, 5], "M": [2, 3, 4]}}},
    2: {"layer": 2, "D": 64, "exclusive_group_neurons": {"gender": {"F": [], "M": [60]}}},
}


def test_erasure_changes_only_chosen_columns_and_restores():
    model = _tiny_model()
    pairs = ffn_pairs(model)
    before = {l: (fc1.weight.clone(), fc2.weight.clone(), fc2.bias.clone()) for l, (fc1, fc2) in pairs.items()}
    sets = group_neurons(NEURONS, "gender", "M")
    with erased(pairs, sets):
        for layer, (fc1, fc2) in pairs.items():
            w1, w2, b2 = before[layer]
            chosen = np.zeros(64, bool)
            chosen[sets[layer]] = True
            assert torch.equal(fc1.weight, w1)
            assert torch.equal(fc2.bias, b2)
            assert torch.all(fc2.weight[:, chosen] == 0)
            assert torch.equal(fc2.weight[:, ~chosen], w2[:, ~chosen])
    for layer, (_, fc2) in pairs.items():
        assert torch.equal(fc2.weight, before[layer][1])


def test_erasure_equals_forcing_activations_to_zero():
    from speechneurons.model.ffn import mask_ffn

    model = _tiny_model()
    sets = group_neurons(NEURONS, "gender", "M")
    x = torch.randn(1, 3000)
    with torch.no_grad():
        with mask_ffn(model, {l: torch.as_tensor(v) for l, v in sets.items()}):
            masked = model(x).last_hidden_state
        with erased(ffn_pairs(model), sets):
            zeroed = model(x).last_hidden_state
        plain = model(x).last_hidden_state
    torch.testing.assert_close(masked, zeroed)
    assert not torch.allclose(plain, zeroed)


def test_erasure_table_2x2_against_control():
    import pandas as pd

    from speechneurons.experiments.erasure import erasure_table

    utts = [f"u{i}" for i in range(20)]
    genders = ["F", "M"] * 10

    def losses(wrong_gender=None):
        loss = [1.0 if g == wrong_gender else 0.0 for g in genders]
        return pd.DataFrame(
            dict(
                task="sid", layer=3, utt_id=utts, speaker=utts, gender=genders, stratum="all", loss_sum=loss, n_items=1
            )
        )

    variants = {("gender-M", "property"): losses("M"), ("gender-M", "random"): losses()}
    table = erasure_table(
        losses(),
        variants,
        {("gender-M", "property"): 5, ("gender-M", "random"): 5},
        {"sid": {3: "last"}},
        resamples=50,
        seed=0,
        level=0.95,
    )
    prop = table[table["kind"] == "property"].set_index("eval_group")
    assert prop.loc["gender=M", "delta"] == pytest.approx(100.0)
    assert prop.loc["gender=F", "delta"] == pytest.approx(0.0)
    assert prop.loc["gender=M", "vs_control"] == pytest.approx(100.0)
    assert (table[table["kind"] == "random"]["delta"] == 0).all()
    assert set(table["n_erased"]) == {5}


def test_empty_erasures_are_reported_as_empty_and_the_matrix_reads_them():
    import pandas as pd

    from speechneurons.experiments.erasure import erasure_matrix, erasure_table

    def losses(err_f, err_m):
        rows = []
        for i in range(8):
            g = "F" if i < 4 else "M"
            rows.append(dict(task="sid", layer=2, utt_id=f"u{i}", speaker=f"s{i % 4}{g}", gender=g, stratum="all",
                             loss_sum=float(i % 4 < (err_f if g == "F" else err_m)), n_items=1))  # fmt: skip
        return pd.DataFrame(rows)

    variants = {("gender-F", "property"): losses(3, 0), ("gender-F", "random"): losses(1, 0),
                ("gender-M", "property"): losses(1, 1), ("gender-M", "random"): losses(1, 1)}  # fmt: skip
    n = {("gender-F", "property"): 5, ("gender-F", "random"): 5, ("gender-M", "property"): 0, ("gender-M", "random"): 0}
    table = erasure_table(losses(1, 0), variants, n, {"sid": {2: "last"}}, resamples=50, seed=0, level=0.95)
    empty = table[table["erasure"] == "gender-M"]
    assert (empty["status"] == "empty: no neuron to erase").all() and empty["delta"].isna().all()
    matrix = erasure_matrix(table, "gender")
    assert set(matrix["erased"]) == {"F", "M"} and set(matrix["scored"]) == {"F", "M"}
    ff = matrix[(matrix["erased"] == "F") & (matrix["scored"] == "F")].iloc[0]
    assert ff["delta"] == pytest.approx(50.0) and ff["vs_control"] == pytest.approx(50.0)
    assert matrix[matrix["erased"] == "M"]["delta"].isna().all()


def test_empty_erasures_without_losses_still_list_every_group_and_the_matrices_work():
    """A run where no erasure has a neuron (so no variant was scored) reports every erasure as
    empty, per task and evaluation group, and its 2x2 and 3x3 matrices are empty, not errors."""
    import pandas as pd

    from speechneurons.experiments.erasure import erasure_matrix, erasure_table

    rows = [
        dict(
            task="sid",
            layer=2,
            utt_id=f"u{i}",
            speaker=f"s{i % 4}{'F' if i < 4 else 'M'}",
            gender="F" if i < 4 else "M",
            stratum="all",
            loss_sum=float(i % 2),
            n_items=1,
        )
        for i in range(8)
    ]
    baseline = pd.DataFrame(rows)
    nothing = baseline.iloc[:0]
    variants = {(g, k): nothing for g in ("gender-F", "gender-M") for k in ("property", "random")}
    table = erasure_table(
        baseline, variants, dict.fromkeys(variants, 0), {"sid": {2: "last"}}, resamples=20, seed=0, level=0.95
    )
    assert set(table["eval_group"]) >= {"all", "gender=F", "gender=M"}
    assert (table["status"] == "empty: no neuron to erase").all() and table["delta"].isna().all()
    gender = erasure_matrix(table, "gender")
    assert len(gender) == 4 and gender["delta"].isna().all()
    assert erasure_matrix(table, "phone_type").empty  # no phone-type erasure in this run
