import numpy as np
import pandas as pd
import pytest

from speechneurons.dissection.items import extremes, top_k_items, utterance_means


def brute_force(acts: np.ndarray, k: int, largest: bool):
    """Per column: sort by (value descending/ascending, index ascending)."""
    idx, val = [], []
    for j in range(acts.shape[1]):
        x = acts[:, j].astype(np.float32)
        order = np.lexsort((np.arange(len(x)), -x if largest else x))[:k]
        idx.append(order)
        val.append(x[order])
    return np.array(idx), np.array(val)


@pytest.mark.parametrize("largest", [True, False])
def test_top_k_matches_brute_force_with_many_ties(largest):
    rng = np.random.default_rng(1)
    acts = rng.integers(-3, 4, size=(200, 37)).astype(np.float16)  # heavy ties, like float16 dumps
    idx, val, _ = top_k_items(acts, 5, largest=largest, chunk=8)
    ref_idx, ref_val = brute_force(acts, 5, largest)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_array_equal(val, ref_val)


def test_constant_column_takes_lowest_indices_in_order():
    acts = np.zeros((10, 2), dtype=np.float32)
    acts[7, 1] = 1.0
    ex = extremes(acts, 3)
    np.testing.assert_array_equal(ex.top[0], [0, 1, 2])
    np.testing.assert_array_equal(ex.bottom[0], [0, 1, 2])
    np.testing.assert_array_equal(ex.top[1], [7, 0, 1])
    np.testing.assert_array_equal(ex.bottom[1], [0, 1, 2])
    assert ex.top_values[1, 0] == 1.0


def test_tie_rank_decides_ties_and_ties_are_counted():
    acts = np.zeros((10, 2), dtype=np.float32)
    acts[4, 1] = -1.0
    rank = np.array([9, 8, 7, 6, 5, 4, 3, 2, 1, 0])  # reversed: the last item wins ties
    bottom = top_k_items(acts, 3, largest=False, tie_rank=rank)
    np.testing.assert_array_equal(bottom.index, [[9, 8, 7], [4, 9, 8]])
    np.testing.assert_array_equal(bottom.tied, [10, 9])
    with pytest.raises(ValueError, match="permutation"):
        top_k_items(acts, 3, tie_rank=np.zeros(10, dtype=int))


def test_seeded_ties_are_reproducible_and_spread_over_the_items():
    acts = np.full((1000, 4), -0.17, dtype=np.float16)  # a GELU floor: every item tied
    a, b = extremes(acts, 5, tie_seed=3), extremes(acts, 5, tie_seed=3)
    np.testing.assert_array_equal(a.bottom, b.bottom)
    assert a.bottom.min() > 5 or a.bottom.max() > 100  # not the first five items
    assert extremes(acts, 5).bottom[0].tolist() == [0, 1, 2, 3, 4]
    assert a.bottom_tied.tolist() == [1000] * 4


def test_chunk_size_does_not_change_the_result():
    acts = np.random.default_rng(2).standard_normal((300, 50)).astype(np.float32)
    a = top_k_items(acts, 4, chunk=7)
    b = top_k_items(acts, 4, chunk=1000)
    np.testing.assert_array_equal(a[0], b[0])


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="k = 6"):
        top_k_items(np.zeros((5, 2)), 6)
    bad = np.zeros((5, 2))
    bad[1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        top_k_items(bad, 2)


def test_utterance_means_equal_groupby_means():
    rng = np.random.default_rng(3)
    utts = np.array(["b", "a", "b", "c", "a", "b"], dtype=object)  # not contiguous, first-appearance order
    acts = rng.standard_normal((6, 4)).astype(np.float16)
    um = utterance_means(acts, utts, chunk=3)
    ref = pd.DataFrame(acts.astype(np.float64)).groupby(utts, sort=False).mean()
    assert list(um.utt_ids) == ["b", "a", "c"]
    np.testing.assert_allclose(um.means, ref.to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(um.n_rows, [3, 2, 1])


def test_distinct_extremes_take_one_item_per_group_and_draw_floor_ties_among_groups():
    from speechneurons.dissection.items import distinct_extremes, floor_tied

    # 8 items of 4 speakers (a a b b c c d d); neuron 0: the two best items share speaker a
    acts = np.array([[9, 0], [8, 0], [7, 0], [1, 0], [6, 0], [2, 0], [3, 0], [0.5, 5]], dtype=np.float32)
    groups = list("aabbccdd")
    ex = distinct_extremes(acts, 2, groups, tie_seed=0)
    assert ex.top[0].tolist() == [0, 2]  # 9 (a), then 7 (b): 8 is passed over (a again)
    assert ex.bottom[0].tolist() == [7, 3]  # 0.5 (d), 1 (b)
    # neuron 1 sits at its floor (0) on 7 items: the bottom 2 are tied, from distinct speakers
    b = ex.bottom[1]
    assert len({groups[i] for i in b}) == 2 and (acts[b, 1] == 0).all() and ex.bottom_tied[1] == 7
    assert floor_tied(ex).tolist() == [False, True]
    # seeded: the same draw every time, another seed may draw other tied items
    assert np.array_equal(distinct_extremes(acts, 2, groups, tie_seed=0).bottom, ex.bottom)
    # fewer groups than k: the passed-over items fill the rest in order
    one = distinct_extremes(acts, 3, ["s"] * 8)
    assert one.top[0].tolist() == [0, 1, 2]


def _walk(acts, k, groups, tie_seed):
    """The walk of distinct_extremes over the full stable order (the definition, item by item)."""
    from speechneurons.dissection.settings import rng

    n = len(acts)
    rank = np.arange(n) if tie_seed is None else rng(tie_seed, "ties").permutation(n)
    by_rank = np.argsort(rank)
    top, bottom = [], []
    for c in range(acts.shape[1]):
        x = acts[by_rank, c]
        for sign, out in ((-1, top), (1, bottom)):
            order = np.argsort(sign * x, kind="stable")
            seen, taken, passed = set(), [], []
            for r in order:
                g = groups[by_rank[r]]
                (passed if g in seen else taken).append(r)
                seen.add(g)
            chosen = taken[:k] + [r for r in order if r in passed][: max(0, k - len(taken))]
            chosen = sorted(chosen, key=lambda r: list(order).index(r))
            out.append(by_rank[chosen].tolist())
    return top, bottom


@pytest.mark.parametrize("n_groups", [1, 3, 40])
def test_distinct_extremes_equal_the_item_by_item_walk_with_heavy_ties(n_groups):
    """Only a prefix of each neuron's order is sorted; with ties at a floor and few groups the
    result is still the full walk's."""
    from speechneurons.dissection.items import distinct_extremes

    rng = np.random.default_rng(n_groups)
    acts = np.maximum(rng.normal(size=(300, 6)), -0.2).round(1).astype(np.float32)
    groups = rng.integers(0, n_groups, size=300).tolist()
    for k, seed in ((5, None), (12, 3)):
        ex = distinct_extremes(acts, k, groups, tie_seed=seed, chunk=4)
        top, bottom = _walk(acts, k, groups, seed)
        assert ex.top.tolist() == top and ex.bottom.tolist() == bottom


@pytest.mark.parametrize("n_groups", [2, 50])
def test_row_blocks_and_a_row_mask_give_the_extremes_of_the_kept_rows(tmp_path, n_groups):
    """Read in blocks of any size, from a file (io.NpyRows) and with a mask of the item rows,
    the extremes are those of the kept rows held in memory (float16 ties, a GELU-like floor)."""
    from speechneurons.dissection.items import distinct_extremes
    from speechneurons.io import load_rows

    rng = np.random.default_rng(n_groups)
    acts = np.maximum(rng.normal(size=(500, 9)), -0.17).round(1).astype(np.float16)
    keep = rng.random(500) < 0.7
    groups = rng.integers(0, n_groups, size=int(keep.sum()))
    np.save(tmp_path / "mid.npy", acts)
    ref = distinct_extremes(acts[keep].astype(np.float32), 5, groups, tie_seed=1, chunk=10_000)
    for block in (1, 7, 64):
        ex = distinct_extremes(load_rows(tmp_path / "mid.npy"), 5, groups, tie_seed=1, chunk=block, rows=keep)
        for name in ex._fields:
            np.testing.assert_array_equal(getattr(ex, name), getattr(ref, name), err_msg=f"{name}, block {block}")
    top = top_k_items(load_rows(tmp_path / "mid.npy"), 4, largest=False, chunk=13, rows=keep)
    ref_idx, ref_val = brute_force(acts[keep], 4, largest=False)
    np.testing.assert_array_equal(top.index, ref_idx)
    np.testing.assert_array_equal(top.values, ref_val)
    assert top.tied.tolist() == [int((acts[keep][:, j] == ref_val[j, -1]).sum()) for j in range(9)]


def test_utterance_means_from_row_blocks(tmp_path):
    from speechneurons.io import load_rows

    rng = np.random.default_rng(0)
    acts = rng.normal(size=(300, 6)).astype(np.float16)
    utts = rng.choice(["a", "b", "c", "d"], size=300)
    np.save(tmp_path / "mid.npy", acts)
    um = utterance_means(load_rows(tmp_path / "mid.npy"), utts, chunk=17)
    for u, m in zip(um.utt_ids, um.means):
        np.testing.assert_allclose(m, acts[utts == u].astype(np.float64).mean(axis=0), rtol=1e-6)
