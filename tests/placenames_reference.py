"""The place-name matcher as it was before its indexes: the reference the indexed one must agree with.

It compares every text with every name of the town, so its cost grows with
the town; ``sim.core.placenames.PlaceNames`` finds the same places through
indexes. Kept here only to check that they agree, text for text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from agentville.sim.core.placenames import CLOSE, CLOSE_WORD, Key, _close, _telling, name_key, words


class ScanningPlaceNames:
    """The matcher as it was before its indexes: every text against every name (slow, plainly right)."""

    def __init__(self, places: Mapping[str, Iterable[str]], residents: Iterable[str] = ()):
        """``places``: each place's name and its aliases; ``residents``: people's names, which name no place."""
        keys: dict[tuple[Key, str], None] = {}  # ordered and without repeats
        for place, aliases in places.items():
            for name in (place, *aliases):
                key = tuple(name_key(name).split())
                if key:
                    keys[key, place] = None
        self._keys = sorted(keys, key=lambda kp: -len(kp[0]))  # longest first: "Dorm for Oak Hill College" first
        spellable: dict[int, list[tuple[Key, str, str]]] = {}  # names long enough to be misspelt, by words
        for key, place in self._keys:
            if len(" ".join(key)) >= 8 and _telling(key, frozenset()):
                spellable.setdefault(len(key), []).append((key, " ".join(key), place))
        self._spellable = sorted(spellable.items(), reverse=True)  # longest first, as ``_keys``
        self._at_word: dict[str, list[tuple[Key, str, int]]] = {}  # word -> (name, place, where the word is in it)
        for key, place in self._keys:
            for j, word in enumerate(key):
                self._at_word.setdefault(word, []).append((key, place, j))
        self._names = sorted({tuple(words(name)) for name in residents if words(name)}, key=len, reverse=True)
        self._people = frozenset(w for name in self._names for w in name)
        self.work = 0  # names looked at, as ``PlaceNames.work`` counts index entries

    def named_in(self, text: str) -> list[str]:
        said = words(text)
        used = [False] * len(said)  # words already taken for a place: each names one place at most
        whole = self._whole(said, used)  # in this order: what a longer reading took, a shorter one cannot
        runs = self._runs(said, used)
        return sorted({*whole, *runs, *self._misspelt(said, used)})

    @staticmethod
    def _take(used: list[bool], start: int, length: int, place: str) -> str:
        used[start:start + length] = [True] * length
        return place

    def _whole(self, said: list[str], used: list[bool]) -> list[str]:
        """1. Whole names and aliases, longest first (the dorm's name takes its "Oak Hill College").

        A one-word name or alias is not a word of a resident's name ("the park" is not in "Ryan Park").
        """
        in_names = [False] * len(said)
        for name in self._names:
            for i in range(len(said) - len(name) + 1):
                if tuple(said[i:i + len(name)]) == name:
                    in_names[i:i + len(name)] = [True] * len(name)
        found = []
        for key, place in self._keys:
            self.work += 1
            for i in range(len(said) - len(key) + 1):
                if (tuple(said[i:i + len(key)]) == key and not any(used[i:i + len(key)])
                        and not (len(key) == 1 and in_names[i])):
                    found.append(self._take(used, i, len(key), place))
        return found

    def _runs(self, said: list[str], used: list[bool]) -> list[str]:
        """2. Runs of two or more telling words of one place's name, from each word on."""
        found = []
        for i in range(len(said)):
            if used[i]:
                continue
            runs: dict[str, tuple[int, bool]] = {}  # place -> (its longest run from here, whether it starts the name)
            for key, place, j in self._at_word.get(said[i], ()):  # the names with this word, where it is in them
                self.work += 1
                length = 0
                while (i + length < len(said) and j + length < len(key) and not used[i + length]
                       and said[i + length] == key[j + length]):
                    length += 1
                if 0 < length < len(key) and _telling(key[j:j + length], self._people):
                    runs[place] = max(runs.get(place, (0, False)), (length, j == 0))
            if runs:
                longest = max(length for length, _ in runs.values())
                tied = {place: starts for place, (length, starts) in runs.items() if length == longest}
                chosen = [place for place, starts in tied.items() if starts] or list(tied)
                if len(chosen) == 1:  # else the run could be either place's: it names neither
                    found.append(self._take(used, i, longest, chosen[0]))
        return found

    def _misspelt(self, said: list[str], used: list[bool]) -> list[str]:
        """3. Close spellings of whole names of two telling words or more, word for word."""
        found = []
        for size, names in self._spellable:
            for i in range(len(said) - size + 1):
                if any(used[i:i + size]):
                    continue
                window = said[i:i + size]
                joined = " ".join(window)
                for key, spelt, place in names:
                    self.work += 1
                    # cheapest first: the lengths alone rule out most (a ratio is at most 2 min / sum)
                    if 2 * min(len(joined), len(spelt)) < CLOSE * (len(joined) + len(spelt)):
                        continue
                    if (all(said_word == word or _close(said_word, word) >= CLOSE_WORD
                            for said_word, word in zip(window, key, strict=True))
                            and _telling(tuple(window), self._people) and _close(joined, spelt) >= CLOSE):
                        found.append(self._take(used, i, size, place))
                        break
        return found
