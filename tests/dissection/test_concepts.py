"""Closed-concept identification: the concept matrix, CLIP-Dissect's similarities, planted neurons."""

import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection.concepts import (
    SOFT_WPMI,
    WPMI,
    best_within,
    concept_matrix,
    cos_similarity,
    cos_similarity_cubed,
    similarity,
    soft_wpmi,
    top_concepts,
    wpmi,
)


def loop_reference(acts, concepts, fn, top_k, a, lam, min_prob=1e-7, p_start=None, p_end=None):
    """CLIP-Dissect's wpmi / soft_wpmi written neuron by neuron, as in their similarity.py."""
    e = np.exp(a * concepts)
    probs = e / e.sum(axis=1, keepdims=True)
    log_p = []
    for j in range(acts.shape[1]):
        order = np.lexsort((np.arange(len(acts)), -acts[:, j]))[:top_k]
        rows = probs[order]
        if fn == "wpmi":
            log_p.append(np.log(rows + min_prob).sum(axis=0))
        else:
            p = p_start - np.arange(top_k) / top_k * (p_start - p_end)
            log_p.append(np.log(1 + p[:, None] * (rows - 1) + min_prob).sum(axis=0))
    log_p = np.array(log_p)
    m = log_p.max(axis=0)
    log_prior = m + np.log(np.exp(log_p - m).sum(axis=0)) - np.log(acts.shape[1])
    return log_p - lam * log_prior


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    concepts = (rng.random((150, 6)) < 0.3).astype(np.float32)
    acts = rng.standard_normal((150, 5)).astype(np.float32)
    acts[:, 0] += 2 * concepts[:, 2]  # neuron 0 is planted on concept 2
    return acts, concepts


def test_cos_and_cos3_formulas(data):
    acts, concepts = data
    a, c = acts[:, 1], concepts[:, 3]
    assert cos_similarity(acts, concepts)[1, 3] == pytest.approx(
        a @ c / np.linalg.norm(a) / np.linalg.norm(c), rel=1e-5
    )
    a3, c3 = (a - a.mean()) ** 3, (c - c.mean()) ** 3
    expected = a3 @ c3 / max(np.linalg.norm(a3), 1e-3) / max(np.linalg.norm(c3), 1e-3)
    assert cos_similarity_cubed(acts, concepts)[1, 3] == pytest.approx(expected, rel=1e-5)


def test_zero_concept_column_gives_zero_not_nan(data):
    acts, concepts = data
    concepts = concepts.copy()
    concepts[:, 0] = 0
    assert np.all(cos_similarity(acts, concepts)[:, 0] == 0)


def test_wpmi_and_soft_wpmi_match_a_neuron_by_neuron_reference(data):
    acts, concepts = data
    ref = loop_reference(acts, concepts, "wpmi", WPMI["top_k"], WPMI["a"], WPMI["lam"])
    np.testing.assert_allclose(wpmi(acts, concepts), ref, rtol=1e-5, atol=1e-5)
    ref = loop_reference(
        acts,
        concepts,
        "soft_wpmi",
        SOFT_WPMI["top_k"],
        SOFT_WPMI["a"],
        SOFT_WPMI["lam"],
        p_start=SOFT_WPMI["p_start"],
        p_end=SOFT_WPMI["p_end"],
    )
    np.testing.assert_allclose(soft_wpmi(acts, concepts), ref, rtol=1e-5, atol=1e-4)


def test_clip_dissect_constants():
    assert WPMI == {"a": 2.0, "top_k": 28, "lam": 0.6, "min_prob": 1e-7}
    assert SOFT_WPMI == {"a": 10.0, "top_k": 100, "lam": 1.0, "min_prob": 1e-7, "p_start": 0.998, "p_end": 0.97}


@pytest.mark.parametrize("name", ["cos", "cos3", "wpmi", "soft_wpmi"])
def test_every_similarity_finds_the_planted_concept(data, name):
    acts, concepts = data
    sim = similarity(name, acts, concepts)
    assert sim.shape == (5, 6)
    assert top_concepts(sim, 2).index[0, 0] == 2


def test_top_concepts_ties_go_to_the_lower_column():
    sim = np.array([[0.5, 0.9, 0.9, 0.1]])
    tc = top_concepts(sim, 3)
    np.testing.assert_array_equal(tc.index, [[1, 2, 0]])
    assert best_within(sim, np.array([3, 0])) == 0


def test_concept_matrix_columns_in_canonical_order():
    table = pd.DataFrame(
        {
            "phone": ["T", "AA", "S"],
            "pitch": [None, "high", "low"],
            "phone_type": ["unvoiced_consonant", "vowel", "unvoiced_consonant"],
        }
    )
    cm = concept_matrix(table, ["phone_type", "pitch", "phone", "missing"])
    assert cm.names == [
        "phone_type=vowel",
        "phone_type=unvoiced_consonant",
        "pitch=low",
        "pitch=high",
        "phone=AA",
        "phone=T",
        "phone=S",
    ]
    np.testing.assert_array_equal(cm.matrix[0], [0, 1, 0, 0, 0, 1, 0])  # no pitch concept when unvoiced
    assert list(cm.attribute[:2]) == ["phone_type", "phone_type"]
    with pytest.raises(ValueError, match="unknown similarity"):
        similarity("rank_reorder", np.zeros((3, 1)), cm.matrix)


def test_chunking_over_neurons_does_not_change_cos(data):
    acts, concepts = data
    np.testing.assert_allclose(cos_similarity(acts, concepts, chunk=2), cos_similarity(acts, concepts), rtol=1e-6)
    np.testing.assert_allclose(
        cos_similarity_cubed(acts, concepts, chunk=2), cos_similarity_cubed(acts, concepts), rtol=1e-6
    )


@pytest.mark.parametrize("name", ["cos", "cos3", "wpmi", "soft_wpmi"])
def test_similarity_from_row_blocks_and_a_row_mask(name):
    """similarity(acts, C, rows=mask) reads acts in row blocks: the similarity of the kept rows
    (cos and cos3 as float64 sums, equal to the in-memory formula to float32 precision)."""
    from speechneurons.dissection.concepts import pmi_from_top, pmi_top_k, unit_columns
    from speechneurons.dissection.items import top_k_items

    rng = np.random.default_rng(3)
    acts = rng.normal(size=(400, 11)).astype(np.float32)
    keep = rng.random(400) < 0.6
    concepts = (rng.random((int(keep.sum()), 5)) < 0.3).astype(np.float32)
    got = similarity(name, acts, concepts, rows=keep)
    if name in ("cos", "cos3"):
        ref = unit_columns(name, acts[keep]).T @ unit_columns(name, concepts)
        np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-7)
    else:
        np.testing.assert_array_equal(got, similarity(name, acts[keep], concepts))
        top = top_k_items(acts[keep], pmi_top_k(name, len(concepts))).index
        np.testing.assert_array_equal(pmi_from_top(name, top, concepts), got)
