"""The PWCCA table of one checkpoint on views with planted answers."""

import numpy as np
import pytest

from speechneurons.phones import PHONES
from speechneurons.trajectories.features import Views, one_hot
from speechneurons.trajectories.measures import measure_pwcca
from tests.helpers.trajectories import pwcca_settings


def test_a_layer_that_is_a_linear_map_of_the_mel_view_scores_one_and_noise_scores_zero():
    rng = np.random.default_rng(0)
    mel = rng.normal(size=(2000, 8)) * np.geomspace(1, 0.3, 8)
    labels = np.array(PHONES)[rng.integers(0, 5, size=600)]
    phone = one_hot(labels, PHONES)
    views = Views(
        layers=(0, 1),
        frames={0: mel @ rng.normal(size=(8, 16))[:, :8].T @ rng.normal(size=(8, 12)), 1: rng.normal(size=(2000, 12))},
        phone_means={
            0: phone[:, :5] @ rng.normal(size=(5, 12)) + 0.01 * rng.normal(size=(600, 12)),
            1: rng.normal(size=(600, 12)),
        },
        word_means={},
        reference={"mel": mel, "phone": phone},
        labels={"phone": labels},
    )
    s = pwcca_settings(views=["mel", "phone"], thresholds=[1e-10])
    summary, trials = measure_pwcca(views, s, "final", seed=0)
    got = summary.set_index(["layer", "view"])["pwcca"]
    assert got[(0, "mel")] == pytest.approx(1.0, abs=1e-6)
    assert got[(0, "phone")] > 0.99
    assert abs(got[(1, "mel")]) < 0.1 and abs(got[(1, "phone")]) < 0.15
    assert len(trials) == 4 * s.trials and set(summary["view_dims"]) == {8, 39}


def test_a_view_whose_stratified_parts_fall_under_three_samples_is_left_out(caplog):
    """40 word segments of 20 words, two each: 40 >= 3 x 10 parts, but stratified by word some
    parts get fewer than 3 (a LibriSpeech-shaped test corpus failed the PWCCA job on it)."""
    rng = np.random.default_rng(1)
    mel = rng.normal(size=(400, 6))
    words = np.repeat([f"w{i}" for i in range(20)], 2)
    word = one_hot(words, sorted(set(words)))
    views = Views(
        layers=(0,),
        frames={0: mel @ rng.normal(size=(6, 6))},
        phone_means={},
        word_means={0: rng.normal(size=(40, 6))},
        reference={"mel": mel, "word": word},
        labels={"word": words},
    )
    summary, _ = measure_pwcca(views, pwcca_settings(views=["mel", "word"]), "final", seed=0)
    assert set(summary["view"]) == {"mel"}
    assert "view word: 40 samples are too few for 10 parts" in caplog.text
