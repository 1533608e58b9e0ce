"""Read a town drawn for the reference implementation (generative_agents) as Agentville places and paths.

The reference exports its Tiled map as a ``matrix`` folder:

- ``maze_meta_info.json``: ``maze_width`` and ``maze_height`` in tiles;
- ``special_blocks/{sector,arena,game_object}_blocks.csv``: one row per block id,
  ``id, world[, sector[, arena]], name`` (the name is the last field);
- ``maze/{sector,arena,game_object,collision}_maze.csv``: the id of every tile, row after
  row (the reference writes each matrix as one flat comma-separated line; a line per row
  is read too). ``0`` is nothing; any other collision id blocks the tile.

A sector becomes a place (its ``xy`` the centroid of its tiles on the 0..100 plane the
bundled worlds use), its arenas the place's areas, the game objects on an arena's tiles
the area's objects. Paths: see ``town_paths``.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from agentville.sim.core.controls import first_unsafe, refusal, refuse_unsafe
from agentville.sim.core.errors import UserError

LAYERS = ("sector", "arena", "game_object")
DETOUR = 1.25  # a direct path is left out when a way by other places is at most this much longer
PLANE = 100.0  # xy spans 0..PLANE on the longer side of the map, as in worlds/*.yaml


@dataclass
class Maze:
    """The tiles of a reference town: each layer's name per tile ("" for none) and which tiles can be walked."""

    folder: Path
    width: int
    height: int
    names: dict[str, np.ndarray]  # layer -> (height, width) array of names
    order: dict[str, list[str]]  # layer -> names in the order of its blocks file (the author's order)
    walkable: np.ndarray
    notes: list[str] = field(default_factory=list)


def maze_folder(path: Path) -> Path:
    """The ``matrix`` folder: ``path`` itself, or ``path/matrix`` (``.../assets/the_ville`` is accepted)."""
    return path / "matrix" if not (path / "maze_meta_info.json").exists() and (path / "matrix").is_dir() else path


def read_maze(path: Path) -> Maze:
    folder = maze_folder(path)
    if not folder.is_dir():
        raise UserError(f"{path}: no such maze folder (the reference's static_dirs/assets/<town>/matrix)")
    meta = read_json(folder / "maze_meta_info.json")
    width, height = (_size(meta, key, folder / "maze_meta_info.json") for key in ("maze_width", "maze_height"))
    notes: list[str] = []
    names, order = {}, {}
    for layer in LAYERS:
        blocks = _blocks(folder / "special_blocks" / f"{layer}_blocks.csv")
        ids = _matrix(folder / "maze" / f"{layer}_maze.csv", width, height)
        order[layer] = list(dict.fromkeys(blocks.values()))
        names[layer] = np.vectorize(lambda i, b=blocks: b.get(i, ""), otypes=[object])(ids)
        unnamed = sorted({i for i in ids.ravel().tolist() if i != "0" and i not in blocks})
        if unnamed:
            notes.append(f"note: {layer}_maze.csv: ids {', '.join(unnamed[:5])} name no row of {layer}_blocks.csv; "
                         "their tiles are read as no " + layer.replace("_", " "))
    collision = _matrix(folder / "maze" / "collision_maze.csv", width, height)
    return Maze(folder, width, height, names, order, collision == "0", notes)


def read_json(path: Path) -> Any:
    """A JSON file of the reference's; no string in it may hold a control or bidirectional character but \\n, \\t."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from None
    refuse_unsafe(data, str(path))
    return data


def _size(meta: Any, key: str, path: Path) -> int:
    value: Any = meta.get(key) if isinstance(meta, dict) else None
    try:
        size = int(value)  # the reference writes them as numbers, sometimes as strings
    except (TypeError, ValueError):
        raise UserError(f"{path}: {key}: must be a whole number of tiles (got {value!r})") from None
    if not 1 <= size <= 2000:
        raise UserError(f"{path}: {key}: {size} tiles is out of range (1 to 2000)")
    return size


def _rows(path: Path) -> list[list[str]]:
    """CSV rows with blanks stripped and empty cells and rows dropped (a trailing comma is common)."""
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return [cells for row in csv.reader(f) if (cells := [c.strip() for c in row if c.strip()])]
    except FileNotFoundError:
        raise UserError(f"{path}: missing") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"{path}: not a readable CSV file ({exc})") from None


def _blocks(path: Path) -> dict[str, str]:
    """Block id -> name (the last field, as the reference reads it)."""
    table = {}
    for n, row in enumerate(_rows(path), 1):
        if len(row) < 2:
            raise UserError(f"{path}: row {n}: expected 'id, world, ..., name' (got {','.join(row)!r})")
        if (char := first_unsafe(row[-1], line_breaks=False)) is not None:
            raise UserError(f"{path}: row {n}: the name {refusal(char)}")
        table[row[0]] = row[-1]
    return table


def _matrix(path: Path, width: int, height: int) -> np.ndarray:
    rows = _rows(path)
    if len(rows) == 1 and len(rows[0]) == width * height:
        cells = rows[0]
    elif len(rows) == height and all(len(row) == width for row in rows):
        cells = [c for row in rows for c in row]
    elif len(rows) <= 1:
        got = len(rows[0]) if rows else 0
        raise UserError(f"{path}: {got} tile ids, expected maze_width x maze_height = {width} x {height} = "
                        f"{width * height}")
    else:
        bad = next((n for n, row in enumerate(rows, 1) if len(row) != width), len(rows))
        raise UserError(f"{path}: row {bad} has {len(rows[min(bad, len(rows)) - 1])} tile ids, expected "
                        f"{width} (maze_width) in each of {height} rows (got {len(rows)} rows)")
    return np.array(cells, dtype=object).reshape(height, width)


# -- places --------------------------------------------------------------------------


def town_places(maze: Maze) -> list[dict[str, Any]]:
    """One place per sector that has tiles: areas from its arenas, objects from the game objects on them."""
    sector, arena, thing = (maze.names[layer] for layer in LAYERS)
    scale = PLANE / max(maze.width, maze.height)
    places = []
    for name in maze.order["sector"]:
        rows, cols = np.nonzero(sector == name)
        if not len(rows):
            continue
        areas: dict[str, list[str]] = {}
        for area in maze.order["arena"]:
            here = (sector == name) & (arena == area)
            if here.any():
                found = set(thing[here].tolist())
                areas[area] = [o for o in maze.order["game_object"] if o in found]
        if not areas:
            maze.notes.append(f"guess: place '{name}' has no arena tiles; it gets one area, '{name.lower()}'")
            areas[name.lower()] = []
        places.append({"name": name, "xy": [round(float(cols.mean()) * scale, 1), round(float(rows.mean()) * scale, 1)],
                       "areas": [{"name": a, "objects": objects} for a, objects in areas.items()]})
    if not places:
        raise UserError(f"{maze.folder}: no tile of maze/sector_maze.csv names a sector of "
                        "special_blocks/sector_blocks.csv: there is no place to import")
    return places


# -- paths ---------------------------------------------------------------------------


def town_paths(maze: Maze, places: list[str], seconds_per_tile: float) -> list[dict[str, Any]]:
    """Walking paths: the shortest walkable tile routes between places, as a road network.

    A place is measured from its centre tile (its walkable tile nearest its centroid). The
    route from A to B may cross A, B and the unnamed tiles between sectors (streets), never a
    third place: one breadth-first search per place over its tiles and the streets, and a
    route is the best meeting of two searches. Of these candidate paths, shortest first, a
    path is kept unless the paths kept already lead from A to B within ``DETOUR`` times its
    length (a greedy spanner), so the map reads as roads, not as every pair of places.
    Minutes are tiles x ``seconds_per_tile`` / 60 (the reference walks one tile per step),
    to a tenth of a minute.
    """
    graph = nx.grid_2d_graph(maze.height, maze.width)
    graph.remove_nodes_from([(int(r), int(c)) for r, c in zip(*np.nonzero(~maze.walkable))])
    sector = maze.names["sector"]
    reach = {name: _distances(graph, maze, sector == name) for name in places}
    candidates = []
    for i, a in enumerate(places):
        for b in places[i + 1:]:
            tiles = _meeting(reach[a], reach[b])
            if math.isfinite(tiles):
                candidates.append((tiles, a, b))
    roads = nx.Graph()
    roads.add_nodes_from(places)
    for tiles, a, b in sorted(candidates):
        try:
            around = nx.shortest_path_length(roads, a, b, weight="tiles")
        except nx.NetworkXNoPath:
            around = math.inf
        if around > DETOUR * tiles:
            roads.add_edge(a, b, tiles=int(tiles))
    _join_islands(roads, maze)
    return [{"between": [a, b], "minutes": minutes(data["tiles"], seconds_per_tile)}
            for a, b, data in roads.edges(data=True)]


def minutes(tiles: float, seconds_per_tile: float) -> float:
    return max(0.1, round(tiles * seconds_per_tile / 60, 1))


def centre_tile(mask: np.ndarray, walkable: np.ndarray) -> tuple[int, int] | None:
    """The walkable tile of ``mask`` nearest the centroid of all its tiles (ties: top-most, then left-most)."""
    rows, cols = np.nonzero(mask)
    free = np.nonzero(mask & walkable)
    if not len(free[0]):
        return None
    gaps = (free[0] - rows.mean()) ** 2 + (free[1] - cols.mean()) ** 2
    best = int(np.argmin(gaps))  # np.nonzero is row-major, so the first minimum is the top-most, left-most
    return int(free[0][best]), int(free[1][best])


def _distances(graph: nx.Graph, maze: Maze, mask: np.ndarray) -> np.ndarray:
    """Tiles from the place's centre to every tile of the place or the streets (inf elsewhere)."""
    far = np.full((maze.height, maze.width), np.inf)
    start = centre_tile(mask, maze.walkable)
    if start is None:
        return far
    allowed = mask | (maze.names["sector"] == "")
    nodes = [(int(r), int(c)) for r, c in zip(*np.nonzero(allowed & maze.walkable))]
    for (r, c), steps in nx.single_source_shortest_path_length(graph.subgraph(nodes), start).items():
        far[r, c] = steps
    return far


def _meeting(a: np.ndarray, b: np.ndarray) -> float:
    """The shortest route made of a search from A and one from B that meet on a tile or across a tile edge."""
    best = float(np.min(a + b))
    for da, db in ((a[:, :-1], b[:, 1:]), (a[:, 1:], b[:, :-1]), (a[:-1, :], b[1:, :]), (a[1:, :], b[:-1, :])):
        if da.size:  # a map one tile high or wide has no neighbours that way
            best = min(best, float(np.min(da + db)) + 1)
    return best


def _join_islands(roads: nx.Graph, maze: Maze) -> None:
    """Places no walkable route reaches: joined to the nearest other part by the straight distance, said as a guess."""
    xy = {}
    for name in roads.nodes:
        rows, cols = np.nonzero(maze.names["sector"] == name)
        xy[name] = (float(rows.mean()), float(cols.mean()))
    parts = sorted(nx.connected_components(roads), key=lambda part: (-len(part), min(part)))
    main = set(parts[0])
    for part in parts[1:]:
        tiles, a, b = min((abs(xy[a][0] - xy[b][0]) + abs(xy[a][1] - xy[b][1]), a, b)
                          for a in sorted(part) for b in sorted(main))
        roads.add_edge(a, b, tiles=max(1, round(tiles)))
        maze.notes.append(f"guess: no walkable route joins '{a}' to the rest of the town; path '{a}' - '{b}' "
                          f"measured as the straight distance between their centres ({max(1, round(tiles))} tiles)")
        main |= part
