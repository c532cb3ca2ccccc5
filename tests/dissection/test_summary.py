import numpy as np
import pandas as pd

from speechneurons.dissection.summary import open_summary, uninterpretable_null


def table():
    return pd.DataFrame(
        {
            "phone_type": ["vowel"] * 5 + ["unvoiced_consonant"] * 5,
            "gender": ["F", "F", "F", "F", "M", "M", "M", "M", "M", "F"],
            "word": ["A", "B", None, "C", "D", "E", "F", "G", "H", "I"],
        }
    )


def test_shared_values_need_min_shared_top_and_few_bottom():
    t = table()
    top = np.array([[0, 1, 2, 3, 4], [0, 1, 5, 6, 7]])
    bottom = np.array([[5, 6, 7, 8, 9], [2, 3, 4, 8, 9]])
    s = open_summary(t, ["phone_type", "gender", "word"], top, bottom, min_shared=4, max_bottom_shared=1)
    rows = s.shared[["neuron", "side", "attribute", "value", "n_top", "n_bottom"]].values.tolist()
    assert rows == [
        [0, "top", "phone_type", "vowel", 5, 0],
        [0, "top", "gender", "F", 4, 1],
        [0, "bottom", "phone_type", "unvoiced_consonant", 0, 5],
        [0, "bottom", "gender", "M", 1, 4],
    ]
    np.testing.assert_array_equal(s.interpretable, [True, False])
    np.testing.assert_array_equal(s.n_shared, [2, 0])
    np.testing.assert_array_equal(s.n_bottom_shared, [2, 0])


def test_strict_bottom_rule():
    t = table()
    top, bottom = np.array([[0, 1, 2, 3, 4]]), np.array([[5, 6, 7, 8, 9]])
    s = open_summary(t, ["gender"], top, bottom, min_shared=4, max_bottom_shared=0)
    assert s.shared.empty and not s.interpretable[0]


def test_null_permutes_items_and_is_seeded():
    t = pd.DataFrame({"phone_type": np.repeat(["vowel", "unvoiced_consonant"], 50)})
    top = np.tile(np.arange(5), (20, 1))  # every neuron: the first five vowels
    bottom = np.tile(np.arange(95, 100), (20, 1))
    assert open_summary(t, ["phone_type"], top, bottom, 4, 1).interpretable.all()
    null = uninterpretable_null(t, ["phone_type"], top, bottom, 4, 1, seed=0, n_permutations=3)
    again = uninterpretable_null(t, ["phone_type"], top, bottom, 4, 1, seed=0, n_permutations=3)
    np.testing.assert_array_equal(null, again)
    assert null.shape == (3,) and set(np.unique(null)) <= {0.0, 1.0}  # all neurons share the same slots
