"""The property statistic on SAE latents: the neurons' statistic unchanged, zeros never active."""

import numpy as np
import pandas as pd
import torch

from speechneurons.phones import PHONES, VOWELS
from speechneurons.properties import statistic as pr
from speechneurons.properties.nulls import NullSettings, null_sets
from speechneurons.saes import SparseAutoencoder
from speechneurons.saes.properties import base_rate, count_rows, latent_properties, top_latents
from tests.helpers.sparse_dictionary import sae_settings

D = 100
SETTINGS = pr.PropertySettings(tau_fraction=0.03, sigma=0.8, min_count=1, splits=(), selection="threshold", fdr_q=0.05)


def _identity_sae(d: int) -> SparseAutoencoder:
    """F = D, W_enc = W_dec = I, biases 0, k = D: z = ReLU(x)."""
    sae = SparseAutoencoder.build(d, sae_settings("topk", k=d, expansion_factor=1.0))
    with torch.no_grad():
        sae.W_enc.copy_(torch.eye(d))
        sae.W_dec.copy_(torch.eye(d))
    return sae.eval()


def _index(frames_per_cell=4):
    rows = [dict(phone=p, gender=g, pitch_bin=b, is_mid=True, utt_id=f"u{g}{b}")
            for p in PHONES for g in ("F", "M") for b in (0, 1, 2)] * frames_per_cell  # fmt: skip
    return pd.DataFrame(rows)


def _planted(index, seed=0):
    """Non-negative activations (so z = x for the identity SAE): small noise, a vowel unit (0)
    and a female unit (1) at 10."""
    rng = np.random.default_rng(seed)
    acts = rng.uniform(0, 0.5, size=(len(index), D)).astype(np.float32)
    acts[:, :2] = 0
    acts[index["phone"].isin(VOWELS).to_numpy(), 0] = 10
    acts[(index["gender"] == "F").to_numpy(), 1] = 10
    return acts


def test_identity_sae_gives_the_neurons_statistic_exactly():
    index = _index()
    acts = _planted(index)
    labels = pr.frame_labels(index, 3)
    lp, top = latent_properties(_identity_sae(D), acts, labels, 1, SETTINGS, 3)
    ref = pr.compute_layer(acts, index, 1, SETTINGS, 3)
    assert lp.tau == ref.tau == 3 and lp.D == D
    assert lp.group_neurons == ref.group_neurons and lp.property_neurons == ref.property_neurons
    assert 0 in lp.property_neurons["phone_type"] and lp.exclusive_group_neurons["gender"]["F"] == [1]
    assert base_rate(top) == 3 / D  # every frame has at least tau active latents here


def test_inactive_latents_never_count_as_activated():
    acts = np.zeros((3, 6), dtype=np.float32)
    acts[0, [4, 2]] = [2.0, 1.0]  # two active latents: both activated, tau = 3 not filled up
    acts[1, :] = [0.5, 0.5, 3.0, 1.0, 0.0, 0.0]  # ties at 0.5: the lower index wins
    acts[2, :] = -1.0  # nothing active
    labels = pr.FrameLabels(phone=np.array([0, 0, 0]), groups={k: np.zeros(3, np.int64) for k in pr.PROPERTIES})
    top = top_latents(_identity_sae(6), acts, labels, tau=3)
    assert [sorted(set(row) - {6}) for row in top.top.tolist()] == [[2, 4], [0, 2, 3], []]
    assert base_rate(top) == (2 + 3 + 0) / 3 / 6


def test_the_properties_nulls_give_latents_a_chance_level_below_planted_counts():
    index = _index()
    index["speaker"] = index["utt_id"]  # one utterance per speaker: 3 F and 3 M speakers
    acts = _planted(index)
    acts[::7] = 0  # rows with no active latent: their top lists are padding (index F)
    labels = pr.frame_labels(index, 3)
    lp, top = latent_properties(_identity_sae(D), acts, labels, 1, SETTINGS, 3)
    assert (top.top == D).any()
    settings = NullSettings(null_draws=4, null_exact_max=100, count_resamples=0)
    args = (top, labels, index["utt_id"].to_numpy(), index["speaker"].to_numpy(), lp.property_neurons, 0.8, 1, 3)
    null = null_sets(*args, settings, 0).groups
    assert sorted(null["seed"].unique()) == list(range(9))  # C(6, 3) / 2 - 1 relabelings for gender
    observed = {(r["property"], r["group"]): r["n_exclusive"] for r in count_rows(lp.neurons_json())}
    female = null[(null.property == "gender") & (null.group == "F")]["n_exclusive"]
    assert observed["gender", "F"] == 1 and (female == 0).all()  # speakers relabeled
    assert null_sets(*args, settings, 0).groups.equals(null)
