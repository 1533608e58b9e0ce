"""The town's map as the simulation sees it: a place tree and walking paths.

Built once from a validated ``Scenario`` and never changed: places form a
tree (place -> area -> object), walking paths form a weighted networkx graph,
and travel time is the shortest path in minutes. It also says which places
are public and which a resident knows when the run starts. What changes
during a run (who is where, object states, places learned) belongs to
``sim.world.town.Town`` and the agents.
"""

from __future__ import annotations

import functools

import networkx as nx

from agentville.sim.core.location import HOME, Location, Residents, area_owners, split_location
from agentville.sim.core.placenames import PlaceNames
from agentville.sim.scenario.schema import PersonaSpec, PlaceSpec, Scenario

AREA_CHANGE_MINUTES = 1.0  # walking between two areas of one place

__all__ = ["AREA_CHANGE_MINUTES", "Location", "World"]


class World:
    """Places, paths and objects (with their default states) of one scenario."""

    def __init__(self, scenario: Scenario):
        self.places: dict[str, PlaceSpec] = {p.name: p for p in scenario.places}
        self.residents = [p.name for p in scenario.personas]  # as the scenario lists them
        self._homes = {p.name: self.resolve(p.home) for p in scenario.personas}
        self.residents_know = scenario.town.residents_know
        self.public_within = scenario.town.public_within_minutes
        self.place_names = PlaceNames({p.name: p.aliases for p in scenario.places}, self.residents)
        self.graph = nx.Graph()
        for place in scenario.places:
            self.graph.add_node(place.name, xy=place.xy, kind=place.kind)
        for path in scenario.paths:
            self.graph.add_edge(*path.between, minutes=path.minutes)
        self._routes: dict[tuple[str, str], tuple[list[str], float]] = {}
        self._public_near: dict[str, set[str]] = {}
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
        """Places ``text`` names, by name or alias, tolerantly (``sim.core.placenames``); sorted."""
        return self.place_names.named_in(text)

    @functools.cached_property
    def public_places(self) -> list[str]:
        """Places every resident may know: as the scenario says, else where no one lives and not all are rooms.

        A house is its residents' (its kitchen is no one's room, but no stranger walks in); a shop is everyone's.
        """
        lived_in = {home.place for home in self._homes.values()}
        return [name for name, place in self.places.items()
                if place.public or (place.public is None and name not in lived_in
                                    and any((name, a.name) not in self.private_areas for a in place.areas))]

    def public_near(self, place: str) -> set[str]:
        """The public places within ``town.public_within_minutes`` of ``place``: a neighbourhood, not the town.

        People know the shops and parks around them, and so their prompts and
        choices stay the same size however large the town grows (the search
        stops at that distance). The bundled towns lie within it whole.
        """
        if place not in self._public_near:
            reach = nx.single_source_dijkstra_path_length(self.graph, place, cutoff=self.public_within,
                                                          weight="minutes")
            public = self._public_set
            self._public_near[place] = {p for p in reach if p in public}
        return set(self._public_near[place])

    @functools.cached_property
    def _public_set(self) -> frozenset[str]:
        return frozenset(self.public_places)

    def places_known_to(self, persona: PersonaSpec) -> set[str]:
        """What a resident knows of the town at the start (the reference gives each one such a tree).

        Its home, its routine's places and the places its texts name; then the
        places of its ``knows`` if it has one, else (unless the town says
        ``residents_know: own``) the public places near home (``public_near``).
        """
        home = self.resolve(persona.home)
        known = {home.place} | {self.resolve(step.place, home).place for step in persona.routine}
        if persona.knows is not None:
            known |= {name for name in persona.knows if name in self.places}
        elif self.residents_know == "public":
            known |= self.public_near(home.place)
        for text in (persona.learned, persona.currently, *persona.memories, *persona.daily_requirements):
            known |= set(self.places_named_in(text))
        return known

    def travel_minutes(self, origin: Location, target: Location) -> float:
        return self.route(origin, target)[1]

    def add_resident(self, persona: PersonaSpec) -> None:
        """Someone who moves in during a run: a resident of its home (its owners, if that is a private room)
        and of rooms named after it, and a name that is no place, like the scenario's residents."""
        home = self.resolve(persona.home)
        self.residents.append(persona.name)
        self._homes[persona.name] = home
        self.place_names = PlaceNames({p.name: p.aliases for p in self.places.values()}, self.residents)
        private = self.private_areas  # updated in place: the town and the scheduler hold this very dict
        for place in self.places.values():
            for area in place.areas:
                if area_owners(area.name, [persona.name]):
                    private.setdefault((place.name, area.name), set()).add(persona.name)
        if home.area_key in private:
            private[home.area_key].add(persona.name)

    def objects_in(self, place: str, area: str) -> list[Location]:
        """The objects of one area, in scenario order."""
        return self._objects_by_area.get((place, area), [])

    @functools.cached_property
    def private_areas(self) -> dict[tuple[str, str], set[str]]:
        """Areas named after residents ("Maria's room"), with who they belong to; others keep out.

        Whoever lives in one (its persona's home) is one of its owners, whatever the name says.
        """
        residents = Residents(self.residents)
        private = {(place.name, area.name): owners for place in self.places.values() for area in place.areas
                   if (owners := area_owners(area.name, residents))}
        for name, home in self._homes.items():
            if home.area_key in private:
                private[home.area_key].add(name)
        return private
