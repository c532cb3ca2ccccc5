"""Speaker-preserving nulls of the dissection's uninterpretable share.

Permuting items across speakers breaks more than the link between activations and items: on a
corpus of few speakers, utterance items are described almost only by speaker-level attributes
(gender, pitch, speaker), and a neuron that follows a speaker keeps a description under any
null that keeps speakers together, but loses it under a free permutation. The free permutation
therefore puts chance too high (99 % uninterpretable on the default run, where a speaker-block
permutation gives 65-78 %).

- Utterance items: a **speaker-block permutation**. The speakers are permuted; the items of a
  speaker take the attributes of the items of the speaker it maps to, in a random order (drawn
  with replacement when that speaker has fewer items). A speaker's items stay together, so
  speaker-level structure is kept and only its link to the activations is broken.
- Phone items: a **within-speaker permutation**: items are permuted among the items of the same
  speaker, which keeps each speaker's phone mix and breaks the link between a phone and its
  activation within the speaker.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from speechneurons.dissection.summary import uninterpretable_null

KINDS = ("utterance", "phone")


def speaker_preserving_permutation(speakers: Sequence, kind: str, gen: np.random.Generator) -> np.ndarray:
    """Row index ``perm``: item i takes the attributes of item ``perm[i]`` (module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {kind!r}")
    spk = np.asarray(speakers).astype(str)
    names, code = np.unique(spk, return_inverse=True)
    rows = [np.flatnonzero(code == s) for s in range(len(names))]
    perm = np.arange(len(spk))
    if kind == "phone":
        for r in rows:
            perm[r] = gen.permutation(r)
        return perm
    target = gen.permutation(len(names))
    for s, r in enumerate(rows):
        source = rows[target[s]]
        if len(source) >= len(r):
            perm[r] = gen.choice(source, len(r), replace=False)
        else:
            perm[r] = gen.choice(source, len(r), replace=True)
    return perm


def uninterpretable_null_by_speaker(
    table: pd.DataFrame,
    attributes: Sequence[str],
    top: np.ndarray,
    bottom: np.ndarray,
    min_shared: int,
    max_bottom_shared: int,
    seed: int,
    n_permutations: int,
    kind: str,
) -> np.ndarray:
    """Uninterpretable share of the layer after each of ``n_permutations`` speaker-preserving
    permutations of the items (:func:`speaker_preserving_permutation`); the same stream as the
    free null, so the seed's meaning is unchanged."""
    if "speaker" not in table:
        raise ValueError("a speaker-preserving null needs the items' speaker column")
    speakers = table["speaker"].to_numpy()
    return uninterpretable_null(
        table,
        attributes,
        top,
        bottom,
        min_shared,
        max_bottom_shared,
        seed,
        n_permutations,
        permutation=lambda gen: speaker_preserving_permutation(speakers, kind, gen),
    )
