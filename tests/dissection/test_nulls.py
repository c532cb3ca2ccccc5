"""Speaker-preserving nulls of the dissection's uninterpretable share (known answers)."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection import nulls as dn
from speechneurons.dissection.summary import uninterpretable_null


def test_phone_permutation_stays_within_each_speaker():
    speakers = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 4)
    perm = dn.speaker_preserving_permutation(speakers, "phone", np.random.default_rng(0))
    assert sorted(perm) == list(range(12)) and (speakers[perm] == speakers).all()


def test_utterance_permutation_moves_whole_speaker_blocks():
    speakers = np.repeat(["a", "b", "c", "d"], 6)
    for seed in range(5):
        perm = dn.speaker_preserving_permutation(speakers, "utterance", np.random.default_rng(seed))
        for s in "abcd":
            assert len(set(speakers[perm[speakers == s]])) == 1  # one source speaker per block
        assert sorted(perm) == list(range(24))  # equal blocks: a true permutation
    uneven = np.array(["a"] * 2 + ["b"] * 5)
    perm = dn.speaker_preserving_permutation(uneven, "utterance", np.random.default_rng(1))
    assert len(perm) == 7 and len(set(uneven[perm[:2]])) == 1 and len(set(uneven[perm[2:]])) == 1
    with pytest.raises(ValueError, match="kind"):
        dn.speaker_preserving_permutation(uneven, "word", np.random.default_rng(0))


def test_speaker_neurons_keep_their_description_under_the_speaker_null_only():
    # 8 speakers x 10 utterance items; every neuron's top 5 items are one speaker's, its bottom 5
    # another's: all neurons are described by 'speaker' (and 'gender'), none is uninterpretable
    speakers = np.repeat([f"s{i}" for i in range(8)], 10)
    table = pd.DataFrame({"speaker": speakers, "gender": np.where(np.arange(80) < 40, "F", "M")})
    rng = np.random.default_rng(0)
    top = np.stack([rng.choice(np.flatnonzero(speakers == f"s{j % 8}"), 5, replace=False) for j in range(40)])
    bottom = np.stack([rng.choice(np.flatnonzero(speakers == f"s{(j + 4) % 8}"), 5, replace=False) for j in range(40)])
    args = (table, ["speaker", "gender"], top, bottom, 5, 0, 0, 50)
    by_speaker = dn.uninterpretable_null_by_speaker(*args, "utterance")
    free = uninterpretable_null(*args)
    assert by_speaker.max() == 0.0  # speaker blocks keep the speaker structure
    assert free.min() > 0.9  # items permuted across speakers: nearly every neuron uninterpretable
