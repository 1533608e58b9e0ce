"""Import a town and its people from the reference implementation's storage (generative_agents).

A reference simulation folder (``environment/frontend_server/storage/<sim>``) holds
``reverie/meta.json`` (start time, seconds per step, maze name, persona names) and, per
person, ``personas/<Name>/bootstrap_memory/scratch.json`` (identity, living area, daily
requirement, cognition settings) and ``spatial_memory.json`` (world > sector > arena >
objects the person knows). The town comes from the reference's maze (``maze_ga``) or,
with ``onto``, from an Agentville scenario whose places the people move into.

Nothing is silently made up: every guess (a living area that names no area, a name
spelt differently, a setting the personas disagree on) and every setting Agentville has
no counterpart for is one line in ``Imported.notes``. The result is checked as a scenario
file before it is handed back, so what is written passes ``agentville validate``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentville.sim.core.errors import UserError
from agentville.sim.scenario import Scenario, load_scenario, load_scenario_text

from .cognition import cognition
from .matching import TownNames
from .maze import read_json, read_maze, town_paths, town_places

TIME_FORMATS = ("%B %d, %Y, %H:%M:%S", "%B %d, %Y")  # "February 13, 2023, 00:00:00", "February 13, 2023"
DEFAULT_START = dt.datetime(2023, 2, 13, 6, 0)  # the reference's Smallville day, at dawn
DEFAULT_STEP_SECONDS = 10.0  # the reference moves one tile per 10-second step


@dataclass
class Imported:
    """A scenario (plain data, in file order) and the lines that report what the import guessed."""

    data: dict[str, Any]
    source: str
    notes: list[str] = field(default_factory=list)


@dataclass
class Person:
    name: str
    folder: Path
    scratch: dict[str, Any]
    spatial: dict[str, Any] | None


def import_ga(storage: str | Path, maze: str | Path | None = None, onto: str | Path | None = None) -> Imported:
    """The scenario for the reference simulation folder ``storage``, on its maze or ``onto`` a scenario's town."""
    storage = Path(storage)
    if not storage.is_dir():
        raise UserError(f"{storage}: no such folder (a generative_agents storage folder, with personas/ in it)")
    notes: list[str] = []
    meta = _meta(storage)
    people = [_person(name, folder) for name, folder in _persona_folders(storage, meta)]
    for person in people:
        if person.name != person.folder.name:
            notes.append(f"guess: personas/{person.folder.name}: scratch.json names '{person.name}'; that name is used")
    fallback = DEFAULT_START
    if onto is not None:
        base = load_scenario(onto, quiet=True)
        town, source, fallback = _onto(base, notes), f"onto '{onto}'", base.start
    else:
        folder = Path(maze) if maze is not None else _default_maze(storage, meta)
        town, source = _maze_town(folder, _step_seconds(storage, meta), notes), f"maze '{folder}'"
    residents = [p.name for p in people]
    names = TownNames(town["places"], residents)
    start = _start(storage, meta, people, fallback, notes)
    data: dict[str, Any] = {
        "name": f"{storage.name} (imported)",
        "description": f"Imported by agentville import-ga from the generative_agents simulation '{storage.name}' "
                       f"({source}).",
        "start": start.isoformat(timespec="seconds" if start.second else "minutes"),
        "seed": town.get("seed", 0),
        "places": town["places"],
        "paths": town["paths"],
        "personas": [_persona(p, names, notes) for p in people],
        "town": {"residents_know": "own"},  # as in the reference: what spatial_memory.json lists, no more
    }
    if "generation" in town:
        data["generation"] = town["generation"]
    scratches = [(p.name, p.folder / "bootstrap_memory" / "scratch.json", p.scratch) for p in people]
    if settings := {**town.get("cognition", {}), **cognition(scratches, notes)}:
        data["cognition"] = settings
    _home_kinds(data)
    return Imported(data, f"generative_agents storage '{storage}' ({source})", notes)


def to_yaml(imported: Imported, name: str = "<import-ga>") -> str:
    """The scenario file's text, checked as ``agentville validate`` would (ScenarioError if it would fail)."""
    body = yaml.dump(imported.data, Dumper=_Dumper, sort_keys=False, width=1_000_000, allow_unicode=True)
    text = (f"# Imported by `agentville import-ga` from {imported.source}.\n"
            "# Each guess the import made was printed when it ran; read homes and known places before a long run.\n"
            "# Format: see README.md, \"Scenario files\" and \"Coming from generative_agents\".\n" + body)
    load_scenario_text(text, name, quiet=True)
    return text


# -- the storage folder ---------------------------------------------------------------


def _meta(storage: Path) -> dict[str, Any]:
    path = storage / "reverie" / "meta.json"
    if not path.exists():
        return {}
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise UserError(f"{path}: must be a JSON object (fork_sim_code, curr_time, persona_names, ...)")
    return meta


def _persona_folders(storage: Path, meta: dict[str, Any]) -> list[tuple[str, Path]]:
    root = storage / "personas"
    listed = meta.get("persona_names")
    if listed is not None:
        if not isinstance(listed, list) or not all(isinstance(n, str) and n.strip() for n in listed):
            raise UserError(f"{storage / 'reverie' / 'meta.json'}: persona_names: must be a list of names")
        for name in listed:
            if not (root / name).is_dir():
                raise UserError(f"{storage / 'reverie' / 'meta.json'}: persona_names: '{name}' has no folder "
                                f"{root / name}")
        return [(name, root / name) for name in listed]
    found = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not found:
        raise UserError(f"{root}: no persona folders (personas/<Name>/bootstrap_memory/scratch.json)")
    return [(p.name, p) for p in found]


def _person(name: str, folder: Path) -> Person:
    path = folder / "bootstrap_memory" / "scratch.json"
    scratch = read_json(path)
    if not isinstance(scratch, dict):
        raise UserError(f"{path}: must be a JSON object (name, age, innate, learned, ...)")
    spatial_path = folder / "bootstrap_memory" / "spatial_memory.json"
    spatial = read_json(spatial_path) if spatial_path.exists() else None
    if spatial is not None and not (isinstance(spatial, dict) and all(
            isinstance(sectors, dict) and all(isinstance(arenas, dict) for arenas in sectors.values())
            for sectors in spatial.values())):
        raise UserError(f"{spatial_path}: must map world > sector > arena > objects")
    text = _text(scratch, "name", path) or name
    return Person(text, folder, scratch, spatial)


def _text(scratch: dict[str, Any], key: str, path: Path) -> str:
    value = scratch.get(key)
    if value is not None and not isinstance(value, str):
        raise UserError(f"{path}: {key}: must be text (got {value!r})")
    return (value or "").strip()


def _start(storage: Path, meta: dict[str, Any], people: list[Person], fallback: dt.datetime,
           notes: list[str]) -> dt.datetime:
    sources = [(storage / "reverie" / "meta.json", meta, key) for key in ("curr_time", "start_date")]
    sources += [(p.folder / "bootstrap_memory" / "scratch.json", p.scratch, "curr_time") for p in people]
    for path, where, key in sources:
        if where.get(key):
            return _time(where[key], path, key)
    notes.append(f"guess: no start time in reverie/meta.json or scratch.json; start = {fallback:%Y-%m-%d %H:%M}")
    return fallback


def _time(value: Any, path: Path, key: str) -> dt.datetime:
    for shape in TIME_FORMATS:
        try:
            return dt.datetime.strptime(str(value).strip(), shape)
        except ValueError:
            continue
    raise UserError(f"{path}: {key}: not a time like 'February 13, 2023, 06:00:00' (got {value!r})")


def _step_seconds(storage: Path, meta: dict[str, Any]) -> float:
    value = meta.get("sec_per_step", DEFAULT_STEP_SECONDS)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 3600:
        raise UserError(f"{storage / 'reverie' / 'meta.json'}: sec_per_step: must be seconds, 1 to 3600 "
                        f"(got {value!r})")
    return float(value)


def _default_maze(storage: Path, meta: dict[str, Any]) -> Path:
    """Where the reference keeps the maze it names: ``frontend_server/static_dirs/assets/<maze_name>/matrix``."""
    name = meta.get("maze_name") or "the_ville"
    guess = storage.resolve().parent.parent / "static_dirs" / "assets" / str(name) / "matrix"
    if not guess.is_dir():
        raise UserError(f"{storage}: no maze found at {guess}; give --maze MATRIX_FOLDER (the reference's "
                        f"static_dirs/assets/{name}/matrix) or --onto SCENARIO")
    return guess


# -- the town ------------------------------------------------------------------------


def _maze_town(folder: Path, step_seconds: float, notes: list[str]) -> dict[str, Any]:
    maze = read_maze(folder)
    places = town_places(maze)
    paths = town_paths(maze, [p["name"] for p in places], step_seconds)
    notes.extend(maze.notes)
    return {"places": places, "paths": [_Flow(p) for p in paths]}


def _onto(base: Scenario, notes: list[str]) -> dict[str, Any]:
    """An Agentville scenario's town (places, paths, seed, generation and cognition settings), not its people."""
    dump = base.model_dump(mode="json", exclude_defaults=True)
    for place in dump["places"]:
        for area in place["areas"]:
            area["objects"] = [o["name"] if set(o) == {"name"} else o for o in area.get("objects", [])]
    if base.interventions:
        notes.append(f"note: the interventions of '{base.name}' ({len(base.interventions)}) are left out: they "
                     "are for its own personas")
    town = {"places": dump["places"], "paths": [_Flow(p) for p in dump.get("paths", [])], "seed": base.seed}
    for section in ("generation", "cognition"):
        if dump.get(section):
            town[section] = dump[section]
    return town


def _home_kinds(data: dict[str, Any]) -> None:
    """A place someone lives in and that has no kind is a home (the dashboard colours places by kind)."""
    lived = {p["home"].split(":")[0].strip() for p in data["personas"]}
    data["places"] = [{"name": p["name"], "kind": "home", **p} if not p.get("kind") and p["name"] in lived else p
                      for p in data["places"]]


# -- the people ----------------------------------------------------------------------


def _persona(person: Person, names: TownNames, notes: list[str]) -> dict[str, Any]:
    path = person.folder / "bootstrap_memory" / "scratch.json"
    age = person.scratch.get("age")
    if isinstance(age, bool) or not isinstance(age, int) or not 1 <= age <= 120:
        raise UserError(f"{path}: age: must be a whole number of years, 1 to 120 (got {age!r})")
    traits = _text(person.scratch, "innate", path)
    if not traits:
        raise UserError(f"{path}: innate: missing; Agentville needs a persona's traits")
    home, guess = names.home(_text(person.scratch, "living_area", path), person.name)
    if guess:
        notes.append(f"guess: {person.name}: {guess}")
    found: dict[str, Any] = {"name": person.name, "age": age, "traits": traits}
    for key in ("learned", "lifestyle", "currently"):
        if text := _text(person.scratch, key, path):
            found[key] = text
    found["home"] = home
    if person.spatial is None:
        notes.append(f"guess: {person.name}: no spatial_memory.json; knows only the home and the places "
                     "their texts name")
    else:
        found["knows"] = _known(person, names, home.split(":")[0].strip(), notes)
    if needs := _requirements(person.scratch, path):
        found["daily_requirements"] = needs
    return found


def _known(person: Person, names: TownNames, home: str, notes: list[str]) -> list[str]:
    known: dict[str, None] = {}
    for sectors in (person.spatial or {}).values():
        for sector in sectors:
            place, how = names.place(sector)
            if place is None:
                notes.append(f"guess: {person.name}: spatial_memory.json knows '{sector}', which is no place; "
                             "left out")
            else:
                if how:
                    notes.append(f"guess: {person.name}: spatial_memory.json's '{sector}' read as '{place}' ({how})")
                known[place] = None
    return [p for p in known if p != home]


def _requirements(scratch: dict[str, Any], path: Path) -> list[str]:
    """``daily_plan_req`` (the authored one, often "1. ... 2. ..."), else ``daily_req`` (a list)."""
    text = _text(scratch, "daily_plan_req", path)
    if text:
        items = re.split(r"(?:^|\s)\d{1,2}[.)]\s+", text)
        return [item.strip() for item in items if item.strip()]
    listed = scratch.get("daily_req") or []
    if not isinstance(listed, list) or not all(isinstance(i, str) for i in listed):
        raise UserError(f"{path}: daily_req: must be a list of texts")
    return [i.strip() for i in listed if i.strip()]


# -- writing -------------------------------------------------------------------------


class _Flow(dict):
    """A mapping written on one line (``{between: [a, b], minutes: 4}``)."""


class _Dumper(yaml.SafeDumper):
    """Readable YAML as in worlds/: lists indented under their key, short lists of names on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _quoted(dumper: yaml.SafeDumper, data: str) -> Any:
    """Locations ("Ada's cottage: main room") in double quotes, as the bundled worlds write them."""
    style = '"' if ": " in data or " #" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


def _short_list(dumper: yaml.SafeDumper, data: Iterable[Any]) -> Any:
    items = list(data)
    flat = all(isinstance(x, (str, int, float)) for x in items) and sum(len(str(x)) + 2 for x in items) < 100
    return dumper.represent_sequence("tag:yaml.org,2002:seq", items, flow_style=flat)


_Dumper.add_representer(list, _short_list)
_Dumper.add_representer(str, _quoted)
_Dumper.add_representer(_Flow, lambda d, data: d.represent_mapping("tag:yaml.org,2002:map", data.items(),
                                                                    flow_style=True))
