"""How free text names places: tolerant, but never on the strength of one common word.

Personas, thoughts and conversations name places the way people do: "the
Willows market", "Hobbs Cafe's", "Hobs Cafe". A place is named in a text by

1. its whole name or an alias, whatever the case, a leading article, a plural
   or possessive s ("the Rose & Crown Pub's" names "The Rose and Crown Pub");
2. a run of two or more telling words of its name ("Willow Market", "Rose and
   Crown") that points at one place: a run that starts a name wins over one
   inside another ("Oak Hill" is the college, not its dorm); a run of
   residents' names ("Ryan Park") never names the place called after them;
3. a close spelling of a whole name of two telling words or more, word for
   word (difflib, ratio ``CLOSE``: "Hobs Cafe" yes, "Hobbs Pub" no).

One word alone ("park", "market") names a place only when it is the place's
whole name or an alias: scenario ``aliases`` are the way to add nicknames.
The scenario's checks use ``name_key`` so that no two places share a name
free text could not tell apart.
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping

ARTICLES = frozenset({"the", "a", "an"})
LINKS = frozenset({"and", "of", "for", "at", "in", "on", "to", "by", "with"})  # words that name nothing
CLOSE = 0.88  # conservative: a letter or two off in a name of two words or more ...
CLOSE_WORD = 0.75  # ... and each word close to the name's word in its place ("Pakr" for "Park", not "but" for "house")
SEEN_TEXTS = 4096  # texts whose places are remembered
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*'?")

Key = tuple[str, ...]


def words(text: str) -> list[str]:
    """The words of ``text`` as names are compared: lower case, "&" as "and", no possessive or plural s."""
    text = text.lower().replace("\u2019", "'").replace("&", " and ")
    found = []
    for word in _WORD.findall(text):
        word = word.removesuffix("'s").rstrip("'")
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        found.append(word)
    return found


def name_key(name: str) -> str:
    """A name as free text reads it: "The Willows' Market" and "willows market" are one name."""
    found = words(name)
    while found and found[0] in ARTICLES:
        found = found[1:]
    return " ".join(found)


@functools.lru_cache(maxsize=1 << 16)
def _telling(run: Key, people: frozenset[str]) -> bool:
    """Two words or more that are not links, and one that is not a resident's name."""
    content = [w for w in run if w not in LINKS and w not in ARTICLES]
    return len(content) >= 2 and any(w not in people for w in content)


@functools.lru_cache(maxsize=1 << 16)
def _close(a: str, b: str) -> float:
    """difflib's ratio of two spellings (0 when it is plainly below ``CLOSE_WORD``).

    Conversations repeat the same words against the same names all day, so answers are remembered, and
    the lengths alone rule most pairs out (the ratio is at most 2 min(len) / (len a + len b)).
    """
    if 2 * min(len(a), len(b)) < CLOSE_WORD * (len(a) + len(b)):
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b)
    return matcher.ratio() if matcher.real_quick_ratio() >= CLOSE_WORD and matcher.quick_ratio() >= CLOSE_WORD else 0.0


class PlaceNames:
    """The names and aliases of a town's places, to find the places a text names."""

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
        self._seen: dict[str, list[str]] = {}
        self._at_word: dict[str, list[tuple[Key, str, int]]] = {}  # word -> (name, place, where the word is in it)
        for key, place in self._keys:
            for j, word in enumerate(key):
                self._at_word.setdefault(word, []).append((key, place, j))
        self._names = sorted({tuple(words(name)) for name in residents if words(name)}, key=len, reverse=True)
        self._people = frozenset(w for name in self._names for w in name)

    def named_in(self, text: str) -> list[str]:
        """The places ``text`` names, sorted (remembered: agents hear the same lines again and again)."""
        if text not in self._seen:
            if len(self._seen) >= SEEN_TEXTS:
                self._seen.clear()
            self._seen[text] = self._find(text)
        return list(self._seen[text])

    def _find(self, text: str) -> list[str]:
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
                    # cheapest first: the lengths alone rule out most (a ratio is at most 2 min / sum)
                    if 2 * min(len(joined), len(spelt)) < CLOSE * (len(joined) + len(spelt)):
                        continue
                    if (all(said_word == word or _close(said_word, word) >= CLOSE_WORD
                            for said_word, word in zip(window, key, strict=True))
                            and _telling(tuple(window), self._people) and _close(joined, spelt) >= CLOSE):
                        found.append(self._take(used, i, size, place))
                        break
        return found
