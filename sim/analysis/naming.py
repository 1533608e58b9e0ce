"""Who and where a free-text answer names: residents, the town's places, and names the town does not have.

Residents are named by their full name or by a first name that only one of
them has, as a whole word in any case ("maria", "Klaus's"), outside the
whole name of a place ("Isabella Rodriguez's apartment" names a place).
Places are found with the town's tolerant place matching
(``sim.core.placenames``: aliases, telling words, close spellings). What is
left that looks like a name (a capitalised word not opening a sentence, or a
run of them) and is neither is a stranger: a person, or a place when it ends
in a word places end in ("Blue Moon Diner") or follows "at"/"in" ("at Starbucks").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from agentville.sim.core.mentions import CALENDAR
from agentville.sim.core.placenames import SEEN_TEXTS, PlaceNames, words

PLACE_WORDS = frozenset("""cafe café diner bar pub restaurant bakery shop store market mall park garden square street
road avenue lane library college school university academy hall church hospital clinic office bank gym museum
theater theatre cinema station hotel inn house apartment apartments tower center centre plaza club studio farm
pharmacy supermarket bistro grill kitchen lounge beach lake river bridge""".split())
COMMON = frozenset("""i i'm i've i'd i'll oh ok okay yes no hi hello hey well so and but the a an my we our it it's
that this there they he she you sure maybe um mr mrs ms dr am pm a.m p.m""".split())
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*(?:\s+(?:of|the|and|&)?\s*[A-Z][\w'’-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“]\s*)$")


def name_words(names: Iterable[str]) -> frozenset[str]:
    """The words of ``names``, to leave out of key words: made once per town, not once per text."""
    return frozenset(w for name in names for w in words(name))


@dataclass(frozen=True)
class Named:
    """What one text names: residents, the town's places, and unknown names (people and places)."""
    people: tuple[str, ...]
    places: tuple[str, ...]
    strange_people: tuple[str, ...]
    strange_places: tuple[str, ...]


class TownNames:
    """A town's residents and places, to read the names in answers against (built once per town)."""

    def __init__(self, residents: Iterable[str], places: dict[str, Iterable[str]], texts: Iterable[str] = ()):
        """``texts``: the town's own words (personas, what was said): their capitalised words are no strangers."""
        self.residents = list(residents)
        self.places = PlaceNames(places, self.residents)
        self._known_words = {w for name in (*self.residents, *places, *(a for al in places.values() for a in al))
                             for w in words(name)}
        self._known_words |= {w for text in texts for run in _CAPITALISED.findall(text) for w in words(run)}
        firsts: dict[str, list[str]] = {}
        for name in self.residents:
            firsts.setdefault(words(name)[0], []).append(name)
        self._by_first = {w: names[0] for w, names in firsts.items() if len(names) == 1}
        self._full: dict[str, list[tuple[tuple[str, ...], str]]] = {}  # first word -> (full name's words, name)
        for name in self.residents:
            if words(name):
                self._full.setdefault(words(name)[0], []).append((tuple(words(name)), name))
        self._place_keys: dict[str, list[tuple[str, ...]]] = {}  # first word -> the place names it starts
        for key in {tuple(words(n)) for n in (*places, *(a for al in places.values() for a in al))}:
            if key:
                self._place_keys.setdefault(key[0], []).append(key)
        self._seen: dict[str, list[str]] = {}

    def people_in(self, text: str) -> list[str]:
        """Residents ``text`` names, sorted: by full name, or a first name only one of them has.

        Words of a place's whole name are no one's ("Johnson Park" does not name Hailey Johnson or Ryan Park).
        """
        if text not in self._seen:  # the same memories and lines come back all day
            if len(self._seen) >= SEEN_TEXTS:
                self._seen.clear()
            self._seen[text] = self._people_in(words(text))
        return list(self._seen[text])

    def _people_in(self, said: list[str]) -> list[str]:
        free = [True] * len(said)
        for i, word in enumerate(said):
            for key in self._place_keys.get(word, ()):
                if tuple(said[i:i + len(key)]) == key:
                    free[i:i + len(key)] = [False] * len(key)
        found = set()
        for i, word in enumerate(said):
            for key, name in self._full.get(word, ()):
                if tuple(said[i:i + len(key)]) == key and all(free[i:i + len(key)]):
                    found.add(name)
            if free[i] and word in self._by_first:
                found.add(self._by_first[word])
        return sorted(found)

    def read(self, text: str) -> Named:
        """Everyone and everywhere ``text`` names, known or not."""
        strange_people: list[str] = []
        strange_places: list[str] = []
        for match in _CAPITALISED.finditer(text):
            run = match.group(0)
            said = words(run)
            if _SENTENCE_START.search(text[:match.start()]) is not None:
                said = said[1:]  # a sentence's first word has its capital from grammar
            names = [w for w in said if w not in COMMON and w not in CALENDAR]
            if not names or all(w in self._known_words for w in names):
                continue
            before = " " + text[:match.start()].rstrip().lower()
            if names[-1] in PLACE_WORDS or before.endswith((" at", " in")):
                strange_places.append(run.strip())
            else:
                strange_people.append(run.strip())
        return Named(tuple(self.people_in(text)), tuple(self.places.named_in(text)),
                     tuple(strange_people), tuple(strange_places))
