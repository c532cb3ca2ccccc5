"""The deterministic template writer: one sentence per neuron from its open-concept summary.

"fires on <top phrase>; silent on <bottom phrase>", where a phrase is built from the attribute
values that describe that side (see ``summary``):

    [loudness] [duration] [rate] <subject> [word context] [neighbours] [speaker] [pitch] [spectrum]

subject: the shared phone(s) ("/AA/"), else the phone type ("vowels"), else the voicing
("voiced segments"), else "speech segments" (or "utterances"). Values implied by others are
left out: the phone type and voicing when a phone is shared, the voicing when a phone type is,
the gender when a speaker is. A neuron whose top shares nothing is "uninterpretable".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

_TYPE_PLURAL = {
    "vowel": "vowels",
    "voiced_consonant": "voiced consonants",
    "unvoiced_consonant": "unvoiced consonants",
    "silence": "silence",
}
_ADJECTIVES = {
    "loudness": {"low": "quiet", "mid": "medium-loud", "high": "loud"},
    "duration": {"low": "short", "mid": "medium-length", "high": "long"},
    "rate": {"low": "slow", "mid": "medium-rate", "high": "fast"},
}
_POSITION = {"initial": "at the start of {}", "medial": "inside {}", "final": "at the end of {}", "single": "as {}"}
_POSITION_ANY = {"initial": "words", "medial": "words", "final": "words", "single": "one-phone words"}
_GENDER = {"F": "female", "M": "male"}
_SPECTRUM = {
    "brightness": {
        "low": "a dark spectrum (low centroid)",
        "mid": "a mid-range spectral centroid",
        "high": "a bright spectrum (high centroid)",
    },
    "tilt": {"low": "a steep spectral tilt", "mid": "a moderate spectral tilt", "high": "a flat spectral tilt"},
}


def _or(words: Sequence[str]) -> str:
    words = list(words)
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _adjective(attr: str, value: str) -> str:
    return _ADJECTIVES[attr].get(value, f"{value}-{attr}")


def _neighbour(values: Mapping[str, list[str]], key_phone: str, key_type: str) -> str | None:
    if key_phone in values:
        return _or(["silence" if p in ("sil", "spn") else f"/{p}/" for p in values[key_phone]])
    if key_type in values:
        return _or([_TYPE_PLURAL.get(t, t) for t in values[key_type]])
    return None


def phrase(values: Mapping[str, list[str]], kind: str = "phone") -> str:
    """The noun phrase of one side: ``values`` maps each attribute to the values that describe it."""
    v = dict(values)
    if "phone" in v:
        v.pop("phone_type", None)
        v.pop("voicing", None)
        subject = _or([f"/{p}/" for p in v["phone"]])
    elif "phone_type" in v:
        v.pop("voicing", None)
        subject = _or([_TYPE_PLURAL[t] for t in v["phone_type"]])
    elif "voicing" in v:
        subject = _or([f"{x} segments" for x in v["voicing"]])
    else:
        subject = "utterances" if kind == "utterance" else "speech segments"
    if "speaker" in v:
        v.pop("gender", None)
    pre = [_or([_adjective(a, x) for x in v[a]]) for a in ("loudness", "duration", "rate") if a in v]
    post = []
    if "word" in v:
        words = _or([f"'{w}'" for w in v["word"]])
        pos = v.get("word_position", [])
        post.append(_POSITION[pos[0]].format("the word " + words) if len(pos) == 1 else f"in the word {words}")
    elif "word_position" in v:
        post.append(_or([_POSITION[p].format(_POSITION_ANY[p]) for p in v["word_position"]]))
    before = _neighbour(v, "prev_phone", "prev_phone_type")
    if before:
        post.append(f"after {before}")
    after = _neighbour(v, "next_phone", "next_phone_type")
    if after:
        post.append(f"before {after}")
    if "speaker" in v:
        post.append(f"spoken by {_or(['speaker ' + s for s in v['speaker']])}")
    elif "gender" in v:
        post.append(f"spoken by {_or([_GENDER.get(g, g) for g in v['gender']])} speakers")
    if "pitch" in v:
        post.append(f"at {_or(v['pitch'])} pitch")
    spectrum = [_or([_SPECTRUM[a].get(x, f"{x} {a}") for x in v[a]]) for a in ("brightness", "tilt") if a in v]
    if spectrum:
        post.append("with " + " and ".join(spectrum))
    return " ".join(pre + [subject] + post)


def describe(
    top: Mapping[str, list[str]],
    bottom: Mapping[str, list[str]],
    kind: str = "phone",
    k: int | None = None,
    min_shared: int | None = None,
) -> str:
    """The sentence of one neuron from the values describing its top and its bottom items."""
    if not top:
        why = f" (no attribute shared by >= {min_shared} of its top {k} items)" if k and min_shared else ""
        text = "uninterpretable" + why
        return text + (f"; silent on {phrase(bottom, kind)}" if bottom else "")
    text = f"fires on {phrase(top, kind)}"
    return text + (f"; silent on {phrase(bottom, kind)}" if bottom else "")


def side_values(shared: pd.DataFrame) -> dict[int, dict[str, dict[str, list[str]]]]:
    """{neuron: {'top': {attribute: [values]}, 'bottom': {...}}} from an open-summary table."""
    out: dict[int, dict[str, dict[str, list[str]]]] = {}
    for j, side, attr, value in shared[["neuron", "side", "attribute", "value"]].itertuples(index=False):
        out.setdefault(int(j), {"top": {}, "bottom": {}})[side].setdefault(attr, []).append(str(value))
    return out


def template_descriptions(shared: pd.DataFrame, n_neurons: int, kind: str, k: int, min_shared: int) -> list[str]:
    """One template description per neuron 0..n_neurons-1."""
    values = side_values(shared)
    empty = {"top": {}, "bottom": {}}
    return [
        describe(values.get(j, empty)["top"], values.get(j, empty)["bottom"], kind, k, min_shared)
        for j in range(n_neurons)
    ]
