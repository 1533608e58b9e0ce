"""Which words of a vocabulary might be close spellings of a word, without comparing it with all of them.

``placenames`` takes a said word for a name's word when difflib's ratio is at
least ``CLOSE_WORD`` (0.75). That ratio is at most the share of letters the two
words have in common (difflib's ``quick_ratio``), so a close pair shares at
least ``ceil(0.6 * len)`` of either word's letters (lengths differ by a factor
of 0.6 at most). Prefix filtering turns that into an index: order letters
rarest first; two words that share that many letters share one among the
first ``len - ceil(0.6 * len) + 1`` of each. Each vocabulary word is filed
under those few rare letters only, and a said word looks up its own few.
The candidates are then compared as before: nothing is lost, little is read.

A word with a digit in it is a number ("Apartment 12"): it is never taken for
another, so numbers, which grow with a town, never enter the index.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable

Letter = tuple[str, int]  # a letter and which of its repeats in the word (multisets as sets)


class Spellings:
    """An index of ``vocabulary`` by the rarest letters of each word."""

    def __init__(self, vocabulary: Iterable[str]):
        spelt = [word for word in vocabulary if spellable(word)]
        frequency = Counter(letter for word in spelt for letter in _letters(word))
        self._rank = {letter: (count, letter) for letter, count in frequency.items()}
        self._filed: dict[Letter, list[str]] = {}
        for word in spelt:
            for letter in self._prefix(word):
                self._filed.setdefault(letter, []).append(word)

    def like(self, word: str) -> set[str]:
        """The vocabulary's words that may be close spellings of ``word`` (a superset: compare them)."""
        if not spellable(word):
            return set()
        return {other for letter in self._prefix(word) for other in self._filed.get(letter, ())}

    def _prefix(self, word: str) -> list[Letter]:
        """The word's rarest letters, as many as a close spelling must share one of."""
        shared = math.ceil(0.6 * len(word) - 1e-9)  # letters any close spelling has in common with it
        letters = sorted(_letters(word), key=lambda letter: self._rank.get(letter, (0, letter)))
        return letters[:len(word) - shared + 1]


def spellable(word: str) -> bool:
    """Words can be misspelt; numbers are said exactly."""
    return not any(ch.isdigit() for ch in word)


def _letters(word: str) -> list[Letter]:
    seen: Counter[str] = Counter()
    letters = []
    for ch in word:
        letters.append((ch, seen[ch]))
        seen[ch] += 1
    return letters
