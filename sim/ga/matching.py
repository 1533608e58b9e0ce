"""Match the reference's addresses (``world:sector:arena``) to a town's places and areas, tolerantly.

Imported people name places the way their own town spelt them ("artist's co-living
space", "Isabella's apartment"). A name is taken as it is when a place has it; else when
it reads the same (``placenames.name_key``: case, articles, possessives); else when free
text would take it for one place (``placenames.PlaceNames``: telling words, close
spellings). A living area that names no area falls back to the area named after the
person, then to the first area private to no one else. Each fallback says why, so the
import can report it as a guess.
"""

from __future__ import annotations

import difflib
from typing import Any

from agentville.sim.core.location import SEPARATOR, area_owners
from agentville.sim.core.placenames import PlaceNames, name_key

CLOSE_AREA = 0.75  # difflib ratio for an area name spelt differently ("main-room", "Main Room ")


class TownNames:
    """A town's places (scenario-shaped dicts) and residents, to read imported addresses against."""

    def __init__(self, places: list[dict[str, Any]], residents: list[str]):
        self.places = {p["name"]: p for p in places}
        self.residents = list(residents)
        self._keys: dict[str, str] = {}
        for place in places:
            for name in (place["name"], *place.get("aliases", ())):
                self._keys.setdefault(name_key(name), place["name"])
        self._free_text = PlaceNames({p["name"]: p.get("aliases", ()) for p in places}, residents)
        self.taken: set[tuple[str, str]] = set()  # (place, area) already someone's home: no guess lands there

    def place(self, text: str) -> tuple[str | None, str]:
        """The place ``text`` names and how it was read ("" when exactly), or (None, "")."""
        text = text.strip()
        if text in self.places:
            return text, ""
        if name_key(text) in self._keys:
            return self._keys[name_key(text)], "spelt differently"
        named = self._free_text.named_in(text)
        if len(named) == 1:
            return named[0], "the closest name"
        return None, ""

    def home(self, address: str, person: str) -> tuple[str, str | None]:
        """``"Place: area"`` for a living area, and why it is a guess (None when the address names it)."""
        (place, area), why = self._home(address, person)
        self.taken.add((place, area))
        return _home(place, area), why

    def _home(self, address: str, person: str) -> tuple[tuple[str, str], str | None]:
        sector, arena = _parts(address)
        place, how = self.place(sector) if sector else (None, "")
        said = f"living_area '{address}'"
        if place is None:
            owned = self._owned(person)
            if owned:
                return owned, f"{said} names no place; home = '{_home(*owned)}' (named after them)"
            free = next((self._fallback(name, person) for name in self.places
                         if (name, self._fallback(name, person)[1]) not in self.taken), None)
            place, area = free or self._fallback(next(iter(self.places)), person)
            return (place, area), (f"{said} names no place; home = '{_home(place, area)}' "
                                   f"({'the first area no one else lives in' if free else 'every area is taken'})")
        area, area_how = self._area(place, arena, person)
        if not how and not area_how:
            return (place, area), None
        why = "; ".join(filter(None, [f"'{sector}' read as '{place}' ({how})" if how else "", area_how]))
        return (place, area), f"{said}: {why}; home = '{_home(place, area)}'"

    def _area(self, place: str, arena: str, person: str) -> tuple[str, str]:
        areas = [a["name"] for a in self.places[place]["areas"]]
        if arena in areas:
            return arena, ""
        same = [a for a in areas if arena and name_key(a) == name_key(arena)]
        if same:
            return same[0], f"'{arena}' read as '{same[0]}' (spelt differently)"
        close = difflib.get_close_matches(arena.casefold(), [a.casefold() for a in areas], n=1, cutoff=CLOSE_AREA)
        if arena and close:
            area = next(a for a in areas if a.casefold() == close[0])
            return area, f"'{arena}' read as '{area}' (the closest name)"
        what = f"names no area '{arena}' of '{place}'" if arena else f"names no area of '{place}'"
        owned = [a for a in areas if person in area_owners(a, [person])]
        if owned:
            return owned[0], f"{what}; '{owned[0]}' is named after them"
        return self._fallback(place, person)[1], f"{what}; the first area private to no one else is used"

    def _owned(self, person: str) -> tuple[str, str] | None:
        """The first area anywhere named after ``person`` ("Maria Lopez's room")."""
        for place in self.places.values():
            for area in place["areas"]:
                if person in area_owners(area["name"], [person]):
                    return place["name"], area["name"]
        return None

    def _fallback(self, place: str, person: str) -> tuple[str, str]:
        """The first area of ``place`` no one else owns (by name, or as a home given already), else its first."""
        others = [r for r in self.residents if r != person]
        areas = [a["name"] for a in self.places[place]["areas"]]
        return place, next((a for a in areas if not area_owners(a, others) and (place, a) not in self.taken), areas[0])


def _parts(address: str) -> tuple[str, str]:
    """(sector, arena) of ``world:sector:arena[:object]``; ``world:sector`` and a bare sector are read too."""
    parts = [p.strip() for p in address.split(SEPARATOR)] if address.strip() else []
    if len(parts) >= 3:
        return parts[1], parts[2]
    if len(parts) == 2:
        return parts[1], ""
    return (parts[0], "") if parts else ("", "")


def _home(place: str, area: str) -> str:
    return f"{place}{SEPARATOR} {area}"
