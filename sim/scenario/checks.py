"""What a scenario's schema cannot check: references, duplicates, reachability, names free text mixes up.

``semantic_problems`` runs after pydantic has accepted the shapes and types;
each problem names the path of the field it is about, so the loader can give
its file and line.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import networkx as nx

from agentville.sim.core.errors import Problem
from agentville.sim.core.location import SEPARATOR as LOCATION_SEP
from agentville.sim.core.location import location_problem, private_problem, suggest, suggest_place
from agentville.sim.core.placenames import name_key

from . import yamlpos

if TYPE_CHECKING:
    from .schema import PlaceSpec, Scenario

Bad = Callable[[tuple[Any, ...], str], None]


def semantic_problems(s: Scenario, at: yamlpos.Located) -> list[Problem]:
    problems: list[Problem] = []

    def bad(path: tuple[Any, ...], message: str) -> None:
        problems.append(at.problem(path, message))

    _unique(s.places, ("places",), "place", bad)
    places: dict[str, PlaceSpec] = {}
    for place in s.places:
        places.setdefault(place.name, place)
    for i, place in enumerate(s.places):
        _unique(place.areas, ("places", i, "areas"), "area", bad)
        for j, area in enumerate(place.areas):
            _unique(area.objects, ("places", i, "areas", j, "objects"), "object", bad)
    _name_clashes(s, bad)
    _path_problems(s, places, bad, reachability=not problems)
    _unique(s.personas, ("personas",), "persona", bad)
    _persona_problems(s, places, bad)

    names = {p.name for p in s.personas}
    if s.end is not None and s.end <= s.start:
        bad(("end",), f"end ({s.end:%Y-%m-%d %H:%M}) must be after start ({s.start:%Y-%m-%d %H:%M})")
    for i, event in enumerate(s.interventions):
        if event.agent not in names:
            bad(("interventions", i, "agent"), f"unknown persona '{event.agent}'{suggest(event.agent, names)}")
        if event.at < s.start:
            bad(("interventions", i, "at"),
                f"{event.at:%Y-%m-%d %H:%M} is before the scenario starts ({s.start:%Y-%m-%d %H:%M})")
    return problems


def _unique(items: list[Any], path: tuple[Any, ...], what: str, bad: Bad) -> None:
    seen: dict[str, int] = {}
    for i, item in enumerate(items):
        key = item.name.casefold()
        if key in seen:
            bad(path + (i, "name"), f"duplicate {what} name '{item.name}' (also at index {seen[key]})")
        seen.setdefault(key, i)
        if LOCATION_SEP in item.name:
            bad(path + (i, "name"), f"{what} names cannot contain '{LOCATION_SEP}'")


def _name_clashes(s: Scenario, bad: Bad) -> None:
    """Free text must tell places apart: no name or alias may read as another place's (``placenames.name_key``)."""
    claimed: dict[str, tuple[str, str]] = {}  # key -> (place, the name or alias that claimed it)
    for i, place in enumerate(s.places):
        for j, name in [(None, place.name), *enumerate(place.aliases)]:
            key = name_key(name)
            where = ("places", i, "name") if j is None else ("places", i, "aliases", j)
            if not key:
                bad(where, f"'{name}' has no word to recognise it by")
                continue
            owner, said = claimed.setdefault(key, (place.name, name))
            duplicate = j is None and said == owner and said.casefold() == name.casefold()  # reported by _unique
            if owner != place.name and not duplicate:
                what = "name" if said == owner else f"alias '{said}'"
                bad(where, f"'{name}' reads the same as place '{owner}' ({what}); free text could not tell them "
                    "apart: rename one")


def _path_problems(s: Scenario, places: dict[str, PlaceSpec], bad: Bad, reachability: bool) -> None:
    graph = nx.Graph()
    graph.add_nodes_from(places)
    clean = True
    for i, path in enumerate(s.paths):
        a, b = path.between
        for k, end in enumerate((a, b)):
            if end not in places:
                bad(("paths", i, "between", k), f"unknown place '{end}'{suggest_place(end, places)}")
                clean = False
        if a == b:
            bad(("paths", i, "between"), f"a path must join two different places (both are '{a}')")
            clean = False
        elif graph.has_edge(a, b):
            bad(("paths", i, "between"), f"duplicate path between '{a}' and '{b}'")
            clean = False
        elif a in places and b in places:
            graph.add_edge(a, b)
    if graph.number_of_nodes() > 1 and reachability and clean:
        components = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
        for component in components[1:]:
            for name in sorted(component):
                index = next(i for i, p in enumerate(s.places) if p.name == name)
                bad(("places", index, "name"),
                    f"place '{name}' cannot be reached from '{s.places[0].name}'; add a path to it")


def _persona_problems(s: Scenario, places: dict[str, PlaceSpec], bad: Bad) -> None:
    homes = {p.name: p.home for p in s.personas}
    for i, persona in enumerate(s.personas):
        where = ("personas", i)
        message = location_problem(persona.home, places, allow_home=False)
        if message:
            bad(where + ("home",), message)
        previous = None
        for j, step in enumerate(persona.routine):
            message = location_problem(step.place, places, allow_home=True) or private_problem(
                step.place, persona.name, homes, places)
            if message:
                bad(where + ("routine", j, "place"), message)
            if previous is not None and step.minute_of_day <= previous.minute_of_day:
                bad(where + ("routine", j, "at"),
                    f"routine times must increase through the day ({step.at} comes after {previous.at})")
            previous = step
        for j, name in enumerate(persona.knows or ()):
            if LOCATION_SEP in name:
                bad(where + ("knows", j), f"'{name}' names an area; list places (their areas come with them)")
            elif name not in places:
                bad(where + ("knows", j), f"unknown place '{name}'{suggest_place(name, places)}")
