"""The 39-phone ARPAbet set, phone types and label normalisation.

Stress digits are stripped (AH0 -> AH). Silence ("", "sil", "sp", "<eps>") maps to "sil";
"spn" (spoken noise) stays "spn". Both are kept as labels but excluded from statistics.
"""

from __future__ import annotations

VOWELS = ("IY", "IH", "EH", "AE", "AA", "AH", "AO", "UH", "EY", "AY", "OY", "AW", "OW", "ER", "UW")
VOICED_CONSONANTS = ("B", "D", "G", "JH", "DH", "Z", "ZH", "V", "M", "N", "NG", "L", "R", "W", "Y")
UNVOICED_CONSONANTS = ("P", "T", "K", "CH", "TH", "S", "SH", "F", "HH")
PHONES = VOWELS + VOICED_CONSONANTS + UNVOICED_CONSONANTS
PHONE_TYPES = {
    "vowel": VOWELS,
    "voiced_consonant": VOICED_CONSONANTS,
    "unvoiced_consonant": UNVOICED_CONSONANTS,
}
PHONE_TO_TYPE = {p: t for t, ps in PHONE_TYPES.items() for p in ps}
SILENCE = "sil"
SPOKEN_NOISE = "spn"
NON_SPEECH = (SILENCE, SPOKEN_NOISE)
_SILENCE_ALIASES = {"", "sil", "sp", "<eps>", "SIL", "SP", "pau", "h#"}


def normalize_phone(label: str) -> str:
    """Map an aligner's phone label to the 39-phone set, 'sil' or 'spn'.

    Raises ValueError for labels outside ARPAbet so that a wrong phone set is loud.
    """
    label = label.strip()
    if label in _SILENCE_ALIASES:
        return SILENCE
    if label.lower() == SPOKEN_NOISE:
        return SPOKEN_NOISE
    base = label.upper().rstrip("012")
    if base in PHONE_TO_TYPE:
        return base
    raise ValueError(f"phone label {label!r} is not ARPAbet (39 phones, silence or spn)")


def is_speech_phone(phone: str) -> bool:
    return phone in PHONE_TO_TYPE
