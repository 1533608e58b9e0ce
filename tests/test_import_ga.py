"""`agentville import-ga`: a reference (generative_agents) simulation folder and maze become a scenario.

Every input here is written by the test in the reference's formats (nothing is copied from
it): a 20x20 tile town with three sectors, each walled with one door onto the streets, and
three personas.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest
import yaml

from agentville.sim.core.errors import UserError
from agentville.sim.ga.importer import import_ga, to_yaml
from agentville.sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
SIZE = 20
WALL = "90001"
# sector -> (id, top, left, bottom, right (inclusive), door (row, col)); arenas split each sector by rows
SECTORS = {
    "Lindenhof Bakery": ("101", 1, 1, 7, 8, (7, 4)),
    "Quill Library": ("102", 1, 11, 7, 18, (7, 14)),
    "Ada Moss's cottage": ("103", 12, 5, 18, 14, (12, 9)),
}
ARENAS = {  # (sector, arena) -> (id, rows of the sector's inside it)
    ("Lindenhof Bakery", "shop"): ("201", range(1, 8)),
    ("Quill Library", "reading room"): ("202", range(1, 4)),
    ("Quill Library", "stacks"): ("203", range(4, 8)),
    ("Ada Moss's cottage", "main room"): ("204", range(12, 16)),
    ("Ada Moss's cottage", "bathroom"): ("205", range(16, 19)),
}
OBJECTS = {"oven": ("301", 3, 3), "counter": ("302", 5, 6), "bookshelf": ("303", 5, 13), "reading desk": ("304", 2, 15),
           "bed": ("305", 13, 7), "shower": ("306", 17, 12)}
PEOPLE = {
    "Ada Moss": dict(age=70, innate="patient, curious", learned="Ada Moss is a retired botanist.",
                     currently="Ada is cataloguing seeds.", lifestyle="Ada goes to bed at 9pm.",
                     living_area="the Town:Ada Moss's cottage:main room",
                     daily_plan_req="1. water the garden 2. read at Quill Library",
                     spatial={"the Town": {"Ada Moss's cottage": {"main room": ["bed"]},
                                           "Quill Library": {"stacks": ["bookshelf"]}}}),
    "Bo Fenn": dict(age=31, innate="cheerful", learned="Bo Fenn bakes bread at Lindenhof Bakery.",
                    currently="", lifestyle="Bo wakes at 4am.", living_area="the Town:lindenhof bakery:Shop",
                    daily_plan_req="", daily_req=["bake bread", "open the shop at 7"],
                    spatial={"the Town": {"Lindenhof Bakery": {"shop": ["oven"]}, "Old Mill": {"loft": []}}}),
    "Cy Ortega": dict(age=25, innate="restless", learned="Cy Ortega studies at Quill Library.", currently="",
                      lifestyle="", living_area="the Town:Cy's flat:room", daily_plan_req="study",
                      spatial={"the Town": {"Quill Library": {"reading room": ["reading desk"]}}}),
}
SETTINGS = {"Ada Moss": dict(att_bandwidth=5, importance_trigger_max=120),
            "Bo Fenn": dict(att_bandwidth=5, importance_trigger_max=120),
            "Cy Ortega": dict(att_bandwidth=9, importance_trigger_max=120)}


def grid(fill: str = "0") -> list[list[str]]:
    return [[fill] * SIZE for _ in range(SIZE)]


def write_maze(folder: Path) -> Path:
    """The reference's matrix folder: meta, special_blocks tables, and each layer as one flat comma line."""
    (folder / "maze").mkdir(parents=True)
    (folder / "special_blocks").mkdir()
    (folder / "maze_meta_info.json").write_text(json.dumps({"world_name": "the town", "maze_width": SIZE,
                                                            "maze_height": SIZE, "sq_tile_size": 32,
                                                            "special_constraint": ""}))
    sector, arena, thing, collision = grid(), grid(), grid(), grid()
    for name, (sid, top, left, bottom, right, door) in SECTORS.items():
        for r in range(top, bottom + 1):
            for c in range(left, right + 1):
                sector[r][c] = sid
                arena[r][c] = next(aid for (s, _), (aid, rows) in ARENAS.items() if s == name and r in rows)
                if r in (top, bottom) or c in (left, right):
                    collision[r][c] = WALL
        collision[door[0]][door[1]] = "0"
    for sid, r, c in OBJECTS.values():
        thing[r][c] = sid
    for layer, matrix in (("sector", sector), ("arena", arena), ("game_object", thing), ("collision", collision)):
        (folder / "maze" / f"{layer}_maze.csv").write_text(", ".join(v for row in matrix for v in row) + "\n")
    blocks = folder / "special_blocks"
    (blocks / "world_blocks.csv").write_text("100, the Town\n")
    (blocks / "sector_blocks.csv").write_text("".join(f"{v[0]}, the Town, {k}\n" for k, v in SECTORS.items()))
    (blocks / "arena_blocks.csv").write_text("".join(f"{v[0]}, the Town, {s}, {a}\n" for (s, a), v in ARENAS.items()))
    (blocks / "game_object_blocks.csv").write_text("".join(f"{v[0]}, the Town, <all>, {k}\n" for k, v in OBJECTS.items()))
    return folder


def write_storage(folder: Path, people: dict = PEOPLE) -> Path:
    (folder / "reverie").mkdir(parents=True)
    (folder / "reverie" / "meta.json").write_text(json.dumps({
        "fork_sim_code": "base", "start_date": "March 01, 2024", "curr_time": "March 01, 2024, 07:30:00",
        "sec_per_step": 10, "maze_name": "the_town", "persona_names": list(people), "step": 0}))
    for name, person in people.items():
        memory = folder / "personas" / name / "bootstrap_memory"
        memory.mkdir(parents=True)
        scratch = {k: v for k, v in person.items() if k != "spatial"}
        scratch.update(name=name, vision_r=4, retention=5, recency_w=1, relevance_w=1, importance_w=2,
                       recency_decay=0.99, concept_forget=100, curr_time=None, daily_req=person.get("daily_req", []),
                       **SETTINGS.get(name, {}))
        (memory / "scratch.json").write_text(json.dumps(scratch, indent=2))
        (memory / "spatial_memory.json").write_text(json.dumps(person["spatial"]))
    return folder


@pytest.fixture()
def town(tmp_path):
    return write_storage(tmp_path / "storage" / "base_town"), write_maze(tmp_path / "assets" / "the_town" / "matrix")


def bfs(start, goal_set, allowed):
    """Tiles from ``start`` to the nearest of ``goal_set`` over ``allowed`` tiles (4 neighbours)."""
    seen, queue = {start: 0}, deque([start])
    while queue:
        r, c = queue.popleft()
        if (r, c) in goal_set:
            return seen[(r, c)]
        for nxt in ((r + 1, c), (r - 1, c), (r, c + 1), (r, c - 1)):
            if nxt in allowed and nxt not in seen:
                seen[nxt] = seen[(r, c)] + 1
                queue.append(nxt)
    return None


def centre(name):
    """The walkable tile of a sector nearest its centroid (top-most, left-most on ties), as the import documents."""
    _, top, left, bottom, right, door = SECTORS[name]
    tiles = [(r, c) for r in range(top, bottom + 1) for c in range(left, right + 1)]
    free = [t for t in tiles if top < t[0] < bottom and left < t[1] < right] + [door]
    cr, cc = sum(r for r, _ in tiles) / len(tiles), sum(c for _, c in tiles) / len(tiles)
    return min(sorted(free), key=lambda t: (t[0] - cr) ** 2 + (t[1] - cc) ** 2)


def walk_tiles(a, b):
    """Tiles between two sectors' centres over their own free tiles and the streets (what the import measures)."""
    inside = {}
    for name, (_, top, left, bottom, right, door) in SECTORS.items():
        inside[name] = {(r, c) for r in range(top + 1, bottom) for c in range(left + 1, right)} | {door}
    sectored = {(r, c) for _, top, left, bottom, right, _ in SECTORS.values()
                for r in range(top, bottom + 1) for c in range(left, right + 1)}
    streets = {(r, c) for r in range(SIZE) for c in range(SIZE)} - sectored
    return bfs(centre(a), {centre(b)}, streets | inside[a] | inside[b])


def test_imports_places_areas_objects_and_walking_minutes(town):
    storage, maze = town
    data = import_ga(storage, maze=maze).data
    places = {p["name"]: p for p in data["places"]}
    assert list(places) == list(SECTORS)
    assert [(a["name"], a["objects"]) for a in places["Quill Library"]["areas"]] == [
        ("reading room", ["reading desk"]), ("stacks", ["bookshelf"])]
    assert [(a["name"], a["objects"]) for a in places["Ada Moss's cottage"]["areas"]] == [
        ("main room", ["bed"]), ("bathroom", ["shower"])]
    # xy: the centroid of the sector's tiles, on the 0..100 plane (20 tiles -> 5 units a tile)
    assert places["Lindenhof Bakery"]["xy"] == [4.5 * 5, 4.0 * 5]
    assert places["Ada Moss's cottage"]["kind"] == "home"
    minutes = {frozenset(p["between"]): p["minutes"] for p in data["paths"]}
    assert len(minutes) == 3  # three places, each pair a short walk apart: no detour makes any path redundant
    for a, b in [("Lindenhof Bakery", "Quill Library"), ("Quill Library", "Ada Moss's cottage"),
                 ("Lindenhof Bakery", "Ada Moss's cottage")]:
        tiles = walk_tiles(a, b)
        assert tiles and minutes[frozenset((a, b))] == round(tiles * 10 / 60, 1), (a, b, tiles)


def test_imports_personas_homes_knowledge_and_settings(town):
    storage, maze = town
    imported = import_ga(storage, maze=maze)
    data, notes = imported.data, imported.notes
    assert data["start"] == "2024-03-01T07:30"
    people = {p["name"]: p for p in data["personas"]}
    ada, bo, cy = people["Ada Moss"], people["Bo Fenn"], people["Cy Ortega"]
    assert (ada["age"], ada["traits"], ada["learned"]) == (70, "patient, curious", "Ada Moss is a retired botanist.")
    assert ada["home"] == "Ada Moss's cottage: main room" and ada["knows"] == ["Quill Library"]
    assert ada["daily_requirements"] == ["water the garden", "read at Quill Library"]
    assert bo["home"] == "Lindenhof Bakery: shop" and bo["daily_requirements"] == ["bake bread", "open the shop at 7"]
    assert "currently" not in bo  # empty texts are left out, not written as ""
    # a living area that names no place lands where no one lives yet (it once put Cy in Bo's bakery shop);
    # the place Cy knew is now his home, which residents know anyway
    assert cy["home"] == "Quill Library: reading room"
    assert bo["knows"] == [] and cy["knows"] == []
    assert data["town"] == {"residents_know": "own"}
    assert data["cognition"] == {"attention_bandwidth": 5, "reflection_threshold": 120, "recency_weight": 1.0,
                                 "relevance_weight": 1.0, "importance_weight": 2.0}
    # every guess, one line each
    assert any(n.startswith("guess: Bo Fenn: living_area 'the Town:lindenhof bakery:Shop'") and "spelt differently" in n
               for n in notes)
    assert any(n.startswith("guess: Cy Ortega: living_area 'the Town:Cy's flat:room' names no place") for n in notes)
    assert any("'Old Mill', which is no place" in n for n in notes)
    assert any(n.startswith("guess: att_bandwidth differs (5 (Ada Moss, Bo Fenn), 9 (Cy Ortega))") for n in notes)
    unmapped = {n.split()[1] for n in notes if n.startswith("unmapped:")}
    assert {"vision_r", "retention", "recency_decay", "concept_forget"} <= unmapped
    assert all("\n" not in n for n in notes)


def test_the_output_validates_and_a_fake_run_finishes(town, tmp_path):
    storage, maze = town
    out = tmp_path / "town.yaml"
    cli = [sys.executable, "-m", "agentville.sim.cli"]
    done = subprocess.run([*cli, "import-ga", str(storage), "--maze", str(maze), "-o", str(out)],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "guess: Cy Ortega" in done.stderr and f"wrote {out}" in done.stderr and done.stdout == ""
    assert f"-m agentville.sim.cli run {out} --llm fake --until +3h" in done.stderr  # a hint that runs as printed
    text = out.read_text()
    assert text.startswith("# Imported by `agentville import-ga` from generative_agents storage")
    assert "  - {between: [" in text  # paths one per line
    assert load_scenario(out).personas[0].name == "Ada Moss"
    assert subprocess.run([*cli, "validate", str(out)], capture_output=True, cwd=tmp_path).returncode == 0
    run = subprocess.run([*cli, "run", str(out), "--llm", "fake", "--until", "+3h", "--db", str(tmp_path / "r.db"),
                          "--no-progress"], capture_output=True, text=True, cwd=tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "finished" in run.stdout


def test_help_names_the_reference_formats():
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "import-ga", "--help"], capture_output=True,
                          text=True)
    assert done.returncode == 0 and "--onto SCENARIO" in done.stdout and "spatial_memory" in done.stdout


def test_without_maze_the_reference_layout_is_found_and_stdout_is_the_default(tmp_path):
    storage = write_storage(tmp_path / "environment" / "frontend_server" / "storage" / "base_town")
    write_maze(tmp_path / "environment" / "frontend_server" / "static_dirs" / "assets" / "the_town" / "matrix")
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "import-ga", str(storage)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["places"][0]["name"] == "Lindenhof Bakery"


def test_onto_an_existing_town_matches_living_areas_tolerantly(tmp_path):
    people = {
        "Isabella Rodriguez": dict(PEOPLE["Ada Moss"], living_area="the Ville:isabella rodriguez's apartment:Main Room",
                                   spatial={"the Ville": {"Hobbs Cafe": {"cafe": []}, "the Rose and Crown Pub": {}}}),
        "Latoya Williams": dict(PEOPLE["Bo Fenn"], living_area="the Ville:artist's co-living space:Latoya Williams's room",
                                spatial={"the Ville": {"Johnson Park": {"park": []}}}),
        "Eddy Lin": dict(PEOPLE["Cy Ortega"], living_area="the Ville:Lin family's house:Eddy Lin's room",
                         spatial={"the Ville": {}}),
    }
    storage = write_storage(tmp_path / "storage", people)
    imported = import_ga(storage, onto=ROOT / "worlds" / "smallville.yaml")
    homes = {p["name"]: p["home"] for p in imported.data["personas"]}
    assert homes == {"Isabella Rodriguez": "Isabella Rodriguez's apartment: main room",
                     "Latoya Williams": "Artist's co-living space: Latoya Williams's room",
                     "Eddy Lin": "Lin family's house: Eddy Lin's bedroom"}
    knows = {p["name"]: p["knows"] for p in imported.data["personas"]}
    assert knows["Isabella Rodriguez"] == ["Hobbs Cafe", "The Rose and Crown Pub"]
    assert len({p["name"] for p in imported.data["places"]}) == len(load_scenario(ROOT / "worlds" / "smallville.yaml").places)
    assert sum(n.startswith("guess: Isabella Rodriguez: living_area") for n in imported.notes) == 1
    assert any(n.startswith("guess: Eddy Lin: living_area") and "'Eddy Lin's bedroom'" in n for n in imported.notes)
    to_yaml(imported)  # validates


def break_scratch(storage: Path) -> Path:
    return storage / "personas" / "Bo Fenn" / "bootstrap_memory" / "scratch.json"


@pytest.mark.parametrize("damage, message", [
    (lambda s, m: break_scratch(s).unlink(), "Bo Fenn/bootstrap_memory/scratch.json: missing"),
    (lambda s, m: break_scratch(s).write_text("{not json"), "scratch.json: not valid JSON (line 1"),
    (lambda s, m: break_scratch(s).write_text(json.dumps({"name": "Bo Fenn", "age": "old", "innate": "x"})),
     "scratch.json: age: must be a whole number"),
    (lambda s, m: (m / "maze" / "arena_maze.csv").write_text("0, 0, 0\n0, 0\n"),
     "arena_maze.csv: row 1 has 3 tile ids, expected 20 (maze_width)"),
    (lambda s, m: (m / "maze" / "collision_maze.csv").write_text("0, 0, 0\n"),
     "collision_maze.csv: 3 tile ids, expected maze_width x maze_height = 20 x 20 = 400"),
    (lambda s, m: (m / "maze_meta_info.json").write_text("{}"), "maze_meta_info.json: maze_width: must be a whole"),
])
def test_hostile_inputs_are_one_line_and_exit_2(town, damage, message):
    storage, maze = town
    damage(storage, maze)
    with pytest.raises(UserError) as caught:
        import_ga(storage, maze=maze)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "import-ga", str(storage), "--maze", str(maze)],
                          capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr


def test_an_output_that_cannot_be_written_is_one_line_and_exit_2(town, tmp_path):
    storage, maze = town
    out = tmp_path / "no such folder" / "town.yaml"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "import-ga", str(storage), "--maze", str(maze),
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == f"agentville: error: -o {out}: cannot write the scenario there " \
                                           "(No such file or directory)"


def write_grid(folder: Path, lines: list[str]) -> Path:
    """A maze from a picture: a letter is a tile of place "Place X" (one arena, "room"), '#' a wall, '.' a street."""
    (folder / "maze").mkdir(parents=True)
    (folder / "special_blocks").mkdir()
    (folder / "maze_meta_info.json").write_text(json.dumps({"maze_width": len(lines[0]), "maze_height": len(lines)}))
    letters = sorted({ch for line in lines for ch in line if ch.isalpha()})
    ids = {ch: str(500 + i) for i, ch in enumerate(letters)}
    tiles = [ch for line in lines for ch in line]
    layers = {"sector": [ids.get(ch, "0") for ch in tiles], "arena": [ids.get(ch, "0") for ch in tiles],
              "game_object": ["0"] * len(tiles), "collision": [WALL if ch == "#" else "0" for ch in tiles]}
    for layer, values in layers.items():
        (folder / "maze" / f"{layer}_maze.csv").write_text(", ".join(values))
    blocks = folder / "special_blocks"
    (blocks / "sector_blocks.csv").write_text("".join(f"{ids[ch]}, w, Place {ch}\n" for ch in letters))
    (blocks / "arena_blocks.csv").write_text("".join(f"{ids[ch]}, w, Place {ch}, room\n" for ch in letters))
    (blocks / "game_object_blocks.csv").write_text("")
    return folder


def grid_paths(tmp_path, lines):
    from agentville.sim.ga.maze import read_maze, town_paths, town_places

    maze = read_maze(write_grid(tmp_path / "m", lines))
    paths = town_paths(maze, [p["name"] for p in town_places(maze)], 60.0)  # a minute a tile: minutes == tiles
    return {tuple(sorted(p["between"])): p["minutes"] for p in paths}, maze.notes


def test_a_path_never_crosses_a_third_place(tmp_path):
    paths, _ = grid_paths(tmp_path, ["A.B.C"])
    assert paths == {("Place A", "Place B"): 2, ("Place B", "Place C"): 2}


def test_a_path_a_short_detour_by_another_place_covers_is_left_out(tmp_path):
    # A to C: 10 tiles; by B: 6 + 6 = 12, within 1.25 x 10: the map keeps A-B and B-C only
    paths, _ = grid_paths(tmp_path, ["A.........C", ".....B....."])
    assert paths == {("Place A", "Place B"): 6, ("Place B", "Place C"): 6}
    # B further off (by B: 8 + 8 = 16 > 12.5): A-C stays, at its own length
    paths, _ = grid_paths(tmp_path / "far", ["A.........C", "...........", "...........", ".....B....."])
    assert paths[("Place A", "Place C")] == 10 and len(paths) == 3


def test_a_walled_off_place_is_joined_by_straight_distance_and_said(tmp_path):
    paths, notes = grid_paths(tmp_path, ["A..#D"])
    assert paths == {("Place A", "Place D"): 4}
    assert notes == ["guess: no walkable route joins 'Place D' to the rest of the town; path 'Place D' - 'Place A' "
                     "measured as the straight distance between their centres (4 tiles)"]


def test_the_maze_is_read_one_row_per_line_too(tmp_path):
    maze = write_grid(tmp_path / "m", ["A.B", "..."])
    for layer in ("sector", "arena", "game_object", "collision"):
        path = maze / "maze" / f"{layer}_maze.csv"
        values = path.read_text().split(", ")
        path.write_text(", ".join(values[:3]) + "\n" + ", ".join(values[3:]) + "\n")
    paths, _ = grid_paths(tmp_path / "again", ["A.B", "..."])
    from agentville.sim.ga.maze import read_maze
    assert (read_maze(maze).names["sector"] == read_maze(tmp_path / "again" / "m").names["sector"]).all()
    assert paths == {("Place A", "Place B"): 2}


def test_without_meta_json_the_folders_are_the_personas_and_the_start_is_a_reported_guess(town):
    storage, maze = town
    (storage / "reverie" / "meta.json").unlink()
    imported = import_ga(storage, maze=maze)
    assert [p["name"] for p in imported.data["personas"]] == sorted(PEOPLE)
    assert imported.data["start"] == "2023-02-13T06:00"
    assert "guess: no start time in reverie/meta.json or scratch.json; start = 2023-02-13 06:00" in imported.notes
    onto = import_ga(storage, onto=ROOT / "worlds" / "the_ville_3.yaml")
    assert onto.data["start"] == "2023-02-13T08:00"  # the town's own start
    assert any(n.startswith("note: the interventions of 'The Ville (3 agents)' (1) are left out") for n in onto.notes)
