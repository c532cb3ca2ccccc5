import pytest

from speechneurons.phones import PHONE_TYPES, PHONES, is_speech_phone, normalize_phone


def test_phone_set_sizes():
    assert len(PHONES) == 39 == len(set(PHONES))
    assert [len(PHONE_TYPES[t]) for t in ("vowel", "voiced_consonant", "unvoiced_consonant")] == [15, 15, 9]


@pytest.mark.parametrize(
    "label, phone",
    [
        ("AH0", "AH"),
        ("ER1", "ER"),
        ("iy2", "IY"),
        ("", "sil"),
        ("sil", "sil"),
        ("sp", "sil"),
        ("spn", "spn"),
        ("SPN", "spn"),
        ("ZH", "ZH"),
    ],
)
def test_normalize_phone(label, phone):
    assert normalize_phone(label) == phone


def test_unknown_phone_is_loud():
    with pytest.raises(ValueError, match="not ARPAbet"):
        normalize_phone("XX")


def test_speech_phone():
    assert is_speech_phone("AA") and not is_speech_phone("sil") and not is_speech_phone("spn")
