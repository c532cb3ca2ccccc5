"""Splicing SAEs into a model and erasing latents: the variants, the masked-prediction losses
and the tables, on a small random HuBERT."""

import numpy as np
import pandas as pd
import torch

from speechneurons.frames import FrameGrid
from speechneurons.model.hubert import PretrainHead
from speechneurons.saes import SparseAutoencoder
from speechneurons.saes.downstream import (
    erasure_table,
    evenly_spread,
    masked_prediction_losses,
    masked_prediction_table,
    probe_variants,
    splice_edit,
    splice_table,
    with_balance,
)
from tests.helpers.models import tiny_config
from tests.helpers.sparse_dictionary import sae_settings


def _identity_sae(d: int) -> SparseAutoencoder:
    sae = SparseAutoencoder.build(d, sae_settings("topk", k=d, expansion_factor=1.0))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
    return sae.eval()


def test_evenly_spread_keeps_both_splits_deterministically():
    manifest = pd.DataFrame({"utt_id": [f"u{i:02d}" for i in range(30)],
                             "split": ["train"] * 20 + ["test"] * 8 + ["dev"] * 2})  # fmt: skip
    sub = evenly_spread(manifest, 5)
    assert sub.split.value_counts().to_dict() == {"train": 5, "test": 5}
    assert sub.utt_id.tolist()[:5] == ["u00", "u05", "u10", "u14", "u19"]
    assert len(evenly_spread(manifest, 0)) == 28


def test_probe_variants_erase_group_units_against_controls():
    saes = {(1, "topk"): _identity_sae(8), (1, "mutual_choice"): _identity_sae(8)}
    doc = {"D": 8, "exclusive_group_neurons": {"gender": {"F": [0, 1], "M": [5]}}}
    empty = {"D": 8, "exclusive_group_neurons": {"gender": {"F": [], "M": [5]}}}
    rates = np.array([0.4, 0.5, 0.45, 0.42, 0.01, 0.02, 0.0, 0.03])
    latent_rates, neuron_rates = {"gender-F": {(1, "topk"): rates}}, {"gender-F": {1: rates}}
    variants, sets, balance = probe_variants(saes, {(1, "topk"): doc}, latent_rates, {1: doc}, neuron_rates,
                                    ["gender-F"], ["topk"], match_neighbours=1, seed=0)  # fmt: skip
    no_neurons, _, _ = probe_variants(saes, {(1, "topk"): doc}, latent_rates, {1: empty}, neuron_rates,
                                   ["gender-F"], ["topk"], match_neighbours=1, seed=0)  # fmt: skip
    assert not [v for v in no_neurons if "neurons" in v.name]  # nothing to erase: no pass
    names = [v.name for v in variants]
    assert names[:3] == ["model", "splice mutual_choice layer 1", "splice topk layer 1"]
    kinds = ("property", "random")
    assert set(names[3:]) == {f"erase gender-F {u} {kind}" for u in ("neurons", "topk") for kind in kinds}
    assert sets["erase gender-F topk property"][1].tolist() == [0, 1]
    assert set(sets["erase gender-F topk random"][1]) <= {2, 3} and len(sets["erase gender-F topk random"][1]) == 2
    assert len(sets["erase gender-F neurons random"][1]) == 2
    by_name = {v.name: v for v in variants}
    assert by_name["erase gender-F neurons property"].masks == {1: [0, 1]}
    # each control's balance: units 0, 1 (0.4, 0.5) against two of 2, 3 (0.45, 0.42)
    assert sorted(zip(balance.erasure, balance.units)) == [("gender-F", "neurons"), ("gender-F", "topk")]
    assert (balance.n_set == 2).all() and (balance.n_control == 2).all()
    assert by_name["erase gender-F topk property"].edit is not None


def test_probe_variants_match_each_erasure_on_its_own_rates():
    """The controls of an erasure are matched on the rates given for that erasure (e.g. on the
    erased group's frames): units 2, 3 are as busy as the F units on female frames, units 4, 5
    overall; the M erasure's rates pick units 6, 7."""
    saes = {(1, "topk"): _identity_sae(8)}
    doc = {"D": 8, "exclusive_group_neurons": {"gender": {"F": [0, 1], "M": [4]}}}
    on_f = np.array([0.9, 0.9, 0.88, 0.89, 0.1, 0.1, 0.0, 0.01])
    overall = np.array([0.4, 0.4, 0.1, 0.1, 0.41, 0.39, 0.0, 0.0])
    on_m = np.array([0.0, 0.0, 0.0, 0.0, 0.7, 0.1, 0.69, 0.69])
    for f_rates, expect in ((on_f, [2, 3]), (overall, [4, 5])):
        rates = {"gender-F": {1: f_rates}, "gender-M": {1: on_m}}
        latent = {name: {(1, "topk"): r[1]} for name, r in rates.items()}
        _, sets, _ = probe_variants(saes, {(1, "topk"): doc}, latent, {1: doc}, rates,
                                 ["gender-F", "gender-M"], ["topk"], match_neighbours=2, seed=0)  # fmt: skip
        for units in ("neurons", "topk"):
            assert sorted(sets[f"erase gender-F {units} random"][1].tolist()) == expect, (units, expect)
            assert sets[f"erase gender-M {units} random"][1].tolist()[0] in (6, 7)


def test_erasure_table_states_how_its_controls_were_matched():
    erasure = pd.DataFrame({"erasure": ["gender-F", "gender-F", "phone_type-vowel"],
                            "units": ["neurons", "topk", "neurons"], "delta": [0.1, 0.2, 0.3]})  # fmt: skip
    balance = pd.DataFrame({"erasure": ["gender-F"] * 3 + ["phone_type-vowel"] * 2,
                            "units": ["neurons", "neurons", "topk", "neurons", "neurons"],
                            "layer": [1, 2, 1, 1, 2], "n_set": [3, 2, 4, 5, 0],
                            "share_balanced": [1.0, 0.0, 1.0, 0.0, np.nan],
                            "ks_distance": [0.2, 0.5, 0.1, 0.4, np.nan]})  # fmt: skip
    out = with_balance(erasure, balance, "in_group rate")
    assert out.matched_on.tolist() == ["in_group rate"] * 3
    assert out.control_balanced.tolist() == [0.5, 1.0, 0.0]  # layers without units left out
    assert out.control_ks.tolist() == [0.5, 0.1, 0.4]
    assert with_balance(erasure.iloc[:0], balance, "overall rate").empty


def test_masked_prediction_same_masks_for_every_variant():
    import transformers

    torch.manual_seed(0)
    model = transformers.HubertModel(tiny_config("hubert", layers=2, hidden=32, ffn=64)).eval()
    head = PretrainHead(32, n_clusters=5, final_dim=8)
    grid = FrameGrid()
    rng = np.random.default_rng(0)
    waves = [rng.normal(size=n).astype(np.float32) for n in (8000, 12000)]
    targets = [rng.integers(0, 5, size=grid.num_frames(len(w))) for w in waves]
    variants = {"model": None, "same": splice_edit({1: _identity_sae(64)}, erase={1: []}, keep_error=True),
                "splice": splice_edit({1: _identity_sae(64)})}  # fmt: skip
    losses = masked_prediction_losses(model, head, waves, targets, grid, 0.5, 2, seed=0, variants=variants)
    by = {name: df.reset_index(drop=True) for name, df in losses.groupby("variant")}
    assert by["model"].n_masked.sum() > 0
    assert by["same"][["n_masked", "n_correct"]].equals(by["model"][["n_masked", "n_correct"]])
    assert np.allclose(by["same"].loss_sum, by["model"].loss_sum)
    assert not np.allclose(by["splice"].loss_sum, by["model"].loss_sum)  # ReLU(h) is not h
    table = masked_prediction_table(losses, resamples=50, seed=0, level=0.95).set_index("variant")
    assert table.loc["same", "masked_loss_delta"] == 0.0


def _losses(errors: dict[str, float]) -> dict[str, pd.DataFrame]:
    """Per variant, a gender probe at layer 2 whose error on each of 10 test utterances is e."""
    rows = lambda e: pd.DataFrame(dict(task="gender", layer=2, utt_id=[f"u{i}" for i in range(10)],  # noqa: E731
                                       speaker=[f"s{i % 2}" for i in range(10)], gender=["F", "M"] * 5,
                                       stratum="all", loss_sum=e, n_items=1.0))  # fmt: skip
    return {name: rows(e) for name, e in errors.items()}


def test_splice_and_erasure_tables_compare_with_model_and_control():
    losses = _losses({"model": 0.1, "splice topk layer 1": 0.3, "erase gender-F topk property": 0.5,
                      "erase gender-F topk random": 0.2})  # fmt: skip
    roles = {"gender": {2: "last"}}
    s = splice_table(losses, roles, resamples=20, seed=0, level=0.95)
    assert s.architecture.tolist() == ["topk"] and s.layer_spliced.tolist() == [1]
    assert np.isclose(s.delta.iloc[0], 20.0)  # error points
    sizes = {"erase gender-F topk property": 2, "erase gender-F topk random": 2, "erase gender-F neurons property": 0}
    e = erasure_table(losses, sizes, roles, 20, 0, 0.95).set_index("units")
    row = e.loc["topk"]
    assert row.own_task and row.n_erased == 2 and not row["nothing_erased"]
    assert np.isclose(row.delta, 40.0) and np.isclose(row.vs_control, 30.0)
    assert e.loc["neurons", "nothing_erased"] and np.isnan(e.loc["neurons", "value"])
