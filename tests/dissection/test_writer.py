import pandas as pd

from speechneurons.dissection.writer import describe, phrase, template_descriptions


def test_issue_example():
    top = {"phone_type": ["vowel"], "gender": ["F"], "pitch": ["high"]}
    bottom = {"phone_type": ["unvoiced_consonant"]}
    assert describe(top, bottom) == (
        "fires on vowels spoken by female speakers at high pitch; silent on unvoiced consonants"
    )


def test_implied_values_are_left_out_and_order_is_fixed():
    v = {
        "phone": ["S"],
        "phone_type": ["unvoiced_consonant"],
        "voicing": ["unvoiced"],
        "loudness": ["high"],
        "duration": ["low"],
        "word": ["SEAT"],
        "word_position": ["initial"],
        "next_phone_type": ["vowel"],
        "speaker": ["f_a"],
        "gender": ["F"],
        "brightness": ["high"],
        "tilt": ["high"],
    }
    assert phrase(v) == (
        "loud short /S/ at the start of the word 'SEAT' before vowels spoken by speaker f_a "
        "with a bright spectrum (high centroid) and a flat spectral tilt"
    )
    assert phrase({"voicing": ["voiced"], "prev_phone": ["sil"]}) == "voiced segments after silence"
    assert phrase({"rate": ["high"], "gender": ["M"]}, kind="utterance") == "fast utterances spoken by male speakers"
    assert phrase({"word_position": ["final"]}) == "speech segments at the end of words"


def test_uninterpretable_and_table_descriptions():
    assert describe({}, {}, k=5, min_shared=4) == "uninterpretable (no attribute shared by >= 4 of its top 5 items)"
    shared = pd.DataFrame(
        {
            "neuron": [1, 1],
            "side": ["top", "bottom"],
            "attribute": ["gender", "gender"],
            "value": ["F", "M"],
            "n_top": [5, 0],
            "n_bottom": [0, 5],
        }
    )
    out = template_descriptions(shared, 2, "phone", 5, 4)
    assert out[0].startswith("uninterpretable")
    assert out[1] == (
        "fires on speech segments spoken by female speakers; silent on speech segments spoken by male speakers"
    )
