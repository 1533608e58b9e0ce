"""A larger town from a scenario: copies of its town in a row, to measure how cost grows with size.

Copy k's places are named "<place> #k" and its residents "<name> #k"; rooms
named after residents follow them ("Ryan Park's room #3" stays Ryan's twin's).
Each copy keeps its own paths, and neighbouring copies are joined by a path
between their first places (``LINK_MINUTES``). Routines and homes follow
their copy; the residents' texts (memories, what they learned) are copied
unchanged, so they name the first copy's cafe and market: copy 1 is the
town's hub, where some residents of every copy go. Interventions are
dropped.
"""

from __future__ import annotations

import math

from agentville.sim.core.location import split_location

from .schema import PathSpec, PersonaSpec, PlaceSpec, Scenario

LINK_MINUTES = 15.0  # walk between neighbouring copies of the town


def grown(scenario: Scenario, agents: int) -> Scenario:
    """A town with ``agents`` residents: as many copies of ``scenario``'s town as needed, in a row."""
    copies = math.ceil(agents / len(scenario.personas))
    names = [p.name for p in scenario.personas]

    def rename(text: str, k: int) -> str:
        """The copy-k twin of a location: its place numbered, rooms named after copy-k residents."""
        if k == 1 or text.strip() == "home":
            return text
        for name in names:
            text = text.replace(f"{name}'s", f"{name} #{k}'s")
        parts = split_location(text)
        return ": ".join([f"{parts[0]} #{k}", *parts[1:]])

    places: list[PlaceSpec] = []
    paths: list[PathSpec] = []
    personas: list[PersonaSpec] = []
    for k in range(1, copies + 1):
        for place in scenario.places:
            areas = [a.model_copy(update={"name": split_location(rename(f"x: {a.name}", k))[1]})
                     for a in place.areas]
            places.append(place.model_copy(update={"name": rename(place.name, k), "areas": areas}))
        for path in scenario.paths:
            paths.append(path.model_copy(update={"between": tuple(rename(p, k) for p in path.between)}))
        if k > 1:
            paths.append(PathSpec(between=(rename(scenario.places[0].name, k - 1), rename(scenario.places[0].name, k)),
                                  minutes=LINK_MINUTES))
        for persona in scenario.personas:
            if len(personas) == agents:
                break
            routine = [s.model_copy(update={"place": rename(s.place, k)}) for s in persona.routine]
            personas.append(persona.model_copy(update={
                "name": persona.name if k == 1 else f"{persona.name} #{k}", "home": rename(persona.home, k),
                "routine": routine}))
    return scenario.model_copy(update={"name": f"{scenario.name} x{copies}", "places": places, "paths": paths,
                                       "personas": personas, "interventions": []})
