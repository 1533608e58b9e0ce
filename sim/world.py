"""The town's map as the simulation sees it: a place tree and walking paths.

Built once from a validated ``Scenario`` and never changed: places form a
tree (place -> area -> object), walking paths form a weighted networkx graph,
and travel time is the shortest path in minutes. What changes during a run
(who is where, object states) belongs to ``sim.town.Town``.
"""

from __future__ import annotations

import functools
import re

import networkx as nx

from .location import HOME, Location, area_owners, split_location
from .scenario import PlaceSpec, Scenario

AREA_CHANGE_MINUTES = 1.0  # walking between two areas of one place
_WORD = re.compile(r"[\w']+")

__all__ = ["AREA_CHANGE_MINUTES", "Location", "World"]


class World:
    """Places, paths and objects (with their default states) of one scenario."""

    def __init__(self, scenario: Scenario):
        self.places: dict[str, PlaceSpec] = {p.name: p for p in scenario.places}
        self.residents = [p.name for p in scenario.personas]  # as the scenario lists them
        self._homes = {p.name: self.resolve(p.home) for p in scenario.personas}
        self.graph = nx.Graph()
        for place in scenario.places:
            self.graph.add_node(place.name, xy=place.xy, kind=place.kind)
        for path in scenario.paths:
            self.graph.add_edge(*path.between, minutes=path.minutes)
        self._by_first_word: dict[str, list[str]] = {}
        for name in self.places:
            first = _WORD.findall(name.lower())
            if first:
                self._by_first_word.setdefault(first[0], []).append(name)
        self._routes: dict[tuple[str, str], tuple[list[str], float]] = {}
        self.default_states: dict[Location, str] = {}
        self._objects_by_area: dict[tuple[str, str], list[Location]] = {}
        for place in scenario.places:
            for area in place.areas:
                for obj in area.objects:
                    where = Location(place.name, area.name, obj.name)
                    self.default_states[where] = obj.state
                    self._objects_by_area.setdefault(where.area_key, []).append(where)

    def resolve(self, text: str, home: Location | None = None) -> Location:
        """Turn ``"Place: area: object"`` (or ``"home"``) into a Location.

        The scenario was validated, so names exist; a place alone means its
        first area.
        """
        if text.strip() == HOME and home is not None:
            return home
        parts = split_location(text)
        place = self.places[parts[0]]
        area = parts[1] if len(parts) > 1 else place.areas[0].name
        return Location(place.name, area, parts[2] if len(parts) > 2 else None)

    def route(self, origin: Location, target: Location) -> tuple[list[str], float]:
        """The places walked through and the minutes it takes from origin to target."""
        if origin.place == target.place:
            minutes = 0.0 if origin.area == target.area else AREA_CHANGE_MINUTES
            return [origin.place], minutes
        key = (origin.place, target.place)
        if key not in self._routes:  # one shortest-path search per pair of places, ever
            minutes, path = nx.single_source_dijkstra(self.graph, origin.place, target.place, weight="minutes")
            self._routes[key] = (path, float(minutes))
        path, minutes = self._routes[key]
        return list(path), minutes

    def places_named_in(self, text: str) -> list[str]:
        """Places whose names occur in ``text`` (case-insensitive), found via their first word."""
        lowered = text.lower()
        found = []
        for word in set(_WORD.findall(lowered)):
            for name in self._by_first_word.get(word, ()):
                if name.lower() in lowered:
                    found.append(name)
        return sorted(found)

    def travel_minutes(self, origin: Location, target: Location) -> float:
        return self.route(origin, target)[1]

    def objects_in(self, place: str, area: str) -> list[Location]:
        """The objects of one area, in scenario order."""
        return self._objects_by_area.get((place, area), [])

    @functools.cached_property
    def private_areas(self) -> dict[tuple[str, str], set[str]]:
        """Areas named after residents ("Maria's room"), with who they belong to; others keep out.

        Whoever lives in one (its persona's home) is one of its owners, whatever the name says.
        """
        private = {(place.name, area.name): owners for place in self.places.values() for area in place.areas
                   if (owners := area_owners(area.name, self.residents))}
        for name, home in self._homes.items():
            if home.area_key in private:
                private[home.area_key].add(name)
        return private
