"""Where things are: ``Place: area: object``, the one spelling used in scenarios and in the log.

Every location string in a scenario file or an event row has this shape;
``Location.parse`` and ``str(location)`` are the only code that reads or
writes it, so no reader has to re-split strings on its own.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .placenames import PlaceNames

SEPARATOR = ":"
HOME = "home"  # in a routine, the persona's home area (exactly this word)


def split_location(text: str) -> list[str]:
    """``"Hobbs Cafe: cafe: counter"`` -> ``["Hobbs Cafe", "cafe", "counter"]``."""
    return [part.strip() for part in text.split(SEPARATOR)]


@dataclass(frozen=True, order=True)
class Location:
    """Where someone is or is going: a place, an area of it, maybe an object."""

    place: str
    area: str
    object: str | None = None

    def __str__(self) -> str:
        parts = [self.place, self.area] + ([self.object] if self.object else [])
        return f"{SEPARATOR} ".join(parts)

    @property
    def area_key(self) -> tuple[str, str]:
        return (self.place, self.area)

    @classmethod
    def parse(cls, text: str) -> Location:
        """A logged location back into its parts (a place alone has an empty area)."""
        parts = split_location(text)
        return cls(parts[0], parts[1] if len(parts) > 1 else "", parts[2] if len(parts) > 2 else None)


def place_of(text: str) -> str:
    """The place of a logged location string (``"Hobbs Cafe: cafe"`` -> ``"Hobbs Cafe"``)."""
    return split_location(text)[0] if text else ""


# -- checking what a scenario names ------------------------------------------------
_POSSESSIVE = re.compile(r"'s\b|(?<=s)'(?!\w)")  # "Maria's", "Latoya Williams'"
_PEOPLE = re.compile(r",|\band\b")


def area_owners(area: str, residents: Iterable[str] | Residents) -> set[str]:
    """Who an area is private to: the residents it is named after; empty if it is public.

    "Maria Lopez's room" is Maria Lopez's; "Mei and John Lin's bedroom" (or
    "Mei & John Lin’s", "Jennifer Moore and Sam's") belongs to everyone it
    names: a first name alone takes the family name of the next full name, or
    else of the one before (all of it after its first name, so "Jennifer Moore
    #2" lends "Moore #2"). Case and curly apostrophes do not matter. For many
    areas of one town, pass ``Residents`` made once.
    """
    people = residents if isinstance(residents, Residents) else Residents(residents)
    text = owner_text(area)
    named = {name for key in names_before_possessives(text) for name in people.named.get(key, ())}
    return named | people.before_possessives(text)


def owner_text(area: str) -> str:
    """An area's name as owners are read in it: case folded, straight apostrophes, "&" as "and"."""
    return area.replace("\u2019", "'").replace("&", " and ").casefold()


def names_before_possessives(text: str) -> set[str]:
    """The full names ``text`` (see ``owner_text``) gives owners: "mei and john lin's" says mei lin, john lin."""
    named: set[str] = set()
    for phrase in _POSSESSIVE.split(text)[:-1]:
        said = [" ".join(p.split()) for p in _PEOPLE.split(phrase) if p.strip()]
        for i, person in enumerate(said):
            if " " not in person:  # a first name alone: the family name of the next full name, else the one before
                others = [said[j] for j in [*range(i + 1, len(said)), *range(i - 1, -1, -1)]]
                lender = next((p for p in others if " " in p), "")
                person = f"{person} {lender.partition(' ')[2]}".strip()
            named.add(person)
    return named


class Residents:
    """Residents by their names as an area's name says them (case folded), looked up rather than read through."""

    def __init__(self, residents: Iterable[str]):
        self.named: dict[str, list[str]] = {}
        for name in residents:
            self.named.setdefault(name.casefold(), []).append(name)
        self._lengths = sorted({len(key) for key in self.named})

    def before_possessives(self, text: str) -> set[str]:
        """Those whose name ends where an "'s" of ``text`` begins ("the john lin's" has John Lin)."""
        found: set[str] = set()
        at = text.find("'s")
        while at >= 0:
            for length in self._lengths:
                if length > at:
                    break
                found.update(self.named.get(text[at - length:at], ()))
            at = text.find("'s", at + 1)
        return found


def location_problem(text: str, places: Mapping[str, Any], allow_home: bool) -> str | None:
    """Why ``text`` does not name a place, area (and optional object); None if it does."""
    if allow_home and text.strip() == HOME:
        return None
    parts = split_location(text)
    place = places.get(parts[0])
    if place is None:
        return f"unknown place '{parts[0]}'{suggest_place(parts[0], places)}"
    if len(parts) == 1:
        return None
    if len(parts) > 3:
        return f"'{text}' has too many parts; use 'place: area' or 'place: area: object'"
    areas = {a.name: a for a in place.areas}
    area = areas.get(parts[1])
    if area is None:
        return f"place '{place.name}' has no area '{parts[1]}'{suggest(parts[1], areas)}"
    if len(parts) == 3 and parts[2] not in {o.name for o in area.objects}:
        hint = suggest(parts[2], [o.name for o in area.objects])
        return f"area '{place.name}: {area.name}' has no object '{parts[2]}'{hint}"
    return None


def private_problem(text: str, who: str, homes: Mapping[str, str], places: Mapping[str, Any]) -> str | None:
    """Why ``who`` may not be at ``text``: an area private to others (``homes``: every resident's home).

    As in ``World.private_areas``: an area named after residents is theirs and
    its dwellers' (a place alone means its first area); one's home is one's own.
    """
    area = _area_key(text, places)
    if text.strip() == HOME or area is None:
        return None
    owners = area_owners(area[1], homes)
    owners |= {name for name, home in homes.items() if owners and _area_key(home, places) == area}
    if owners and who not in owners:
        return (f"'{area[0]}: {area[1]}' is private to {', '.join(sorted(owners))} (areas named after residents "
                f"are theirs alone); name another area")
    return None


def _area_key(text: str, places: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (place, area) a location names, a place alone meaning its first area; None if there is no such place."""
    parts = split_location(text)
    place = places.get(parts[0])
    if place is None:
        return None
    return place.name, parts[1] if len(parts) > 1 else place.areas[0].name


def suggest(word: str, known: Any) -> str:
    """`` (did you mean 'X'?)`` for the closest of ``known`` (case aside), or nothing."""
    folded: dict[str, str] = {}
    for name in known:
        folded.setdefault(str(name).casefold(), str(name))
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean '{folded[close[0]]}'?)" if close else ""


def suggest_place(word: str, places: Mapping[str, Any]) -> str:
    """Like ``suggest``, but first the one place free text would take ``word`` for ("Willow Market", an alias)."""
    named = PlaceNames({name: getattr(place, "aliases", ()) for name, place in places.items()}).named_in(word)
    return f" (did you mean '{named[0]}'?)" if len(named) == 1 else suggest(word, places)
