"""Who and where a free-text answer names: residents, the town's places, and names the town does not have.

Residents are named by their full name or by a first (or family) name that
only one of them has, as a whole word in any case ("maria", "Klaus's").
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

from agentville.sim.core.placenames import PlaceNames, words

PLACE_WORDS = frozenset("""cafe café diner bar pub restaurant bakery shop store market mall park garden square street
road avenue lane library college school university academy hall church hospital clinic office bank gym museum
theater theatre cinema station hotel inn house apartment apartments tower center centre plaza club studio farm
pharmacy supermarket bistro grill kitchen lounge beach lake river bridge""".split())
CALENDAR = frozenset("""monday tuesday wednesday thursday friday saturday sunday january february march april may june
july august september october november december valentine valentine's christmas easter""".split())
COMMON = frozenset("""i i'm i've i'd i'll oh ok okay yes no hi hello hey well so and but the a an my we our it it's
that this there they he she you sure maybe um mr mrs ms dr am pm a.m p.m""".split())
_CAPITALISED = re.compile(r"[A-Z][\w'’-]*(?:\s+(?:of|the|and|&)?\s*[A-Z][\w'’-]*)*")
_SENTENCE_START = re.compile(r"(?:^|[.!?:;\"“]\s*)$")


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
        counts: dict[str, list[str]] = {}
        for name in self.residents:
            for part in {w for w in words(name)}:
                counts.setdefault(part, []).append(name)
        self._by_word = {w: names[0] for w, names in counts.items() if len(names) == 1}
        self._full = {tuple(words(name)): name for name in self.residents}

    def people_in(self, text: str) -> list[str]:
        """Residents ``text`` names, sorted: by full name, or a name-word only one of them has."""
        said = words(text)
        found = {name for key, name in self._full.items()
                 if any(tuple(said[i:i + len(key)]) == key for i in range(len(said) - len(key) + 1))}
        found |= {self._by_word[w] for w in said if w in self._by_word}
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
