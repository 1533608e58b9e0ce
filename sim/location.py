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
def area_owners(area: str, residents: Iterable[str]) -> set[str]:
    """Who an area is private to: the residents it is named after; empty if it is public.

    "Maria Lopez's room" is Maria Lopez's; "Mei and John Lin's bedroom" is
    Mei Lin's and John Lin's (a first name alone takes the family name of the
    last one: all of it after its first name, so "Jennifer Moore #2" lends "Moore #2").
    """
    named: set[str] = set()
    for phrase in area.split("'s")[:-1]:
        people = [p.strip() for p in re.split(r",|\band\b", phrase) if p.strip()]
        if people:
            family = people[-1].partition(" ")[2]
            named |= {p if " " in p or not family else f"{p} {family}" for p in people}
    return {name for name in residents if f"{name}'s" in area or name in named}


def location_problem(text: str, places: Mapping[str, Any], allow_home: bool) -> str | None:
    """Why ``text`` does not name a place, area (and optional object); None if it does."""
    if allow_home and text.strip() == HOME:
        return None
    parts = split_location(text)
    place = places.get(parts[0])
    if place is None:
        return f"unknown place '{parts[0]}'{suggest(parts[0], places)}"
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


def private_problem(text: str, who: str, home: str, places: Mapping[str, Any], residents: list[str]) -> str | None:
    """Why ``who`` (living at ``home``) may not be at ``text``: an area private to others.

    A place alone means its first area; one's home area is always one's own.
    """
    parts = split_location(text)
    if text.strip() == HOME or parts[:2] == split_location(home)[:2]:
        return None
    area = parts[1] if len(parts) > 1 else places[parts[0]].areas[0].name
    owners = area_owners(area, residents)
    if owners and who not in owners:
        return (f"'{parts[0]}: {area}' is private to {', '.join(sorted(owners))} (areas named after residents "
                f"are theirs alone); name another area")
    return None


def suggest(word: str, known: Any) -> str:
    close = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
