"""Every malformed scenario gets one located line per problem, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentville.sim.errors import ScenarioError
from agentville.sim.scenario import load_scenario

from .conftest import TINY

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")


def mutate(old: str, new: str) -> str:
    assert old in TINY, old
    return TINY.replace(old, new, 1)


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


# (id, file content, expected field, words the message must contain, line marker or None)
CASES = [
    ("yaml-syntax", mutate("seed: 3", "seed: [3"), "yaml", "syntax error", None),
    ("tab-indent", mutate("seed: 3\n", "seed: 3\nfoo:\n\t- 1\n"), "yaml", "syntax error", None),
    ("not-a-mapping", "- just\n- a list\n", "scenario", "mapping", None),
    ("missing-name", mutate("name: Tiny town\n", ""), "name", "missing required field", None),
    ("missing-places", TINY.split("places:")[0] + "personas: []\n", "places", "missing required field", None),
    ("wrong-type-age", mutate("age: 41", "age: forty-one"), "personas.1.age", "integer", "age: forty-one"),
    ("negative-age", mutate("age: 30", "age: -3"), "personas.0.age", "greater than", "age: -3"),
    ("bad-start", mutate("start: 2023-02-13T07:00", "start: yesterday morning"), "start", "datetime",
     "start: yesterday"),
    ("bad-time-of-day", mutate('at: "08:00"', 'at: "25:61"'), "personas.0.routine.1.at", "HH:MM", "25:61"),
    ("unknown-field", mutate("    traits: quiet", "    traits: quiet\n    hom: x"), "personas.1.hom",
     "did you mean 'home'", "hom: x"),
    ("dangling-home", mutate('home: "Home: kitchen"', 'home: "Home: garage"'), "personas.1.home",
     "no area 'garage'", "Home: garage"),
    ("dangling-home-place", mutate('home: "Home: bedroom"', 'home: "Hose: bedroom"'), "personas.0.home",
     "did you mean 'Home'", "Hose: bedroom"),
    ("path-unknown-place", mutate("{between: [Home, Park], minutes: 3}", "{between: [Home, Prak], minutes: 3}"),
     "paths.1.between.1", "unknown place 'Prak'", "Prak"),
    ("path-self-loop", mutate("{between: [Home, Park], minutes: 3}", "{between: [Park, Park], minutes: 3}"),
     "paths.1.between", "two different places", "[Park, Park]"),
    ("path-zero-minutes", mutate("minutes: 3", "minutes: 0"), "paths.1.minutes", "greater than 0", "minutes: 0"),
    ("unreachable-place", mutate("  - {between: [Home, Park], minutes: 3}\n  - {between: [Park, Cafe], minutes: 4}\n", ""),
     "places.2.name", "cannot be reached", "name: Park"),
    ("duplicate-place", mutate("  - name: Park", "  - name: Cafe"), "places.2.name", "duplicate place name",
     "name: Cafe\n        xy: [5"),
    ("duplicate-persona", mutate("  - name: Bob", "  - name: Ann"), "personas.1.name", "duplicate persona", "- name: Ann\n    age: 41"),
    ("duplicate-key", mutate("seed: 3\n", "seed: 3\nseed: 4\n"), "seed", "duplicate key", "seed: 4"),
    ("empty-personas", TINY.split("personas:")[0] + "personas: []\n", "personas", "at least 1", "personas: []"),
    ("empty-traits", mutate("traits: quiet", 'traits: ""'), "personas.1.traits", "at least 1", 'traits: ""'),
    ("routine-out-of-order", mutate('at: "12:00"', 'at: "07:30"'), "personas.0.routine.2.at", "must increase",
     '"07:30", activity: eating'),
    ("routine-unknown-object", mutate('"Cafe: hall: table"', '"Cafe: hall: sofa"'), "personas.1.routine.1.place",
     "no object 'sofa'", "Cafe: hall: sofa"),
    ("routine-in-someone-elses-room",
     mutate("objects: [stove]", "objects: [stove]\n      - name: Ann's study").replace(
         '"Cafe: hall: table"', '"Home: Ann\'s study"'),
     "personas.1.routine.1.place", "private to Ann", "Home: Ann's study"),
    ("intervention-unknown-agent", mutate("agent: Bob", "agent: Rob"), "interventions.0.agent",
     "did you mean 'Bob'", "agent: Rob"),
    ("intervention-before-start", mutate("at: 2023-02-13T09:30", "at: 2023-02-12T09:30"), "interventions.0.at",
     "before the scenario starts", "2023-02-12T09:30"),
    ("end-before-start", mutate("seed: 3", "seed: 3\nend: 2023-02-12T00:00"), "end", "must be after start", "end:"),
    ("colon-in-name", mutate("name: Park", '"name": "Park: North"'), "places.2.name", "cannot contain", "Park: North"),
    ("unknown-backend", TINY + "generation: {backend: gpt9}\n", "generation.backend", "embedded", "generation:"),
    ("two-documents", TINY + "---\nname: other\n", "yaml", "more than one YAML document", "name: other"),
    ("empty-file", "", "scenario", "file is empty", None),
    # These were tracebacks (issue 13, item 10):
    ("start-with-time-zone", mutate("start: 2023-02-13T07:00", "start: 2023-02-13T07:00+02:00"), "start",
     "has a time zone", "start: 2023-02-13T07:00+02:00"),
    ("seed-too-large", mutate("seed: 3", "seed: 99999999999999999999999"), "seed", "less than or equal",
     "seed: 9999"),
    ("deep-nesting", "name: x\nplaces: " + "[" * 5000 + "]" * 5000 + "\n", "yaml", "nested too deeply", None),
    ("tag-on-a-key", "!!int notanumber: 1\n", "yaml", "cannot read a value", None),
    ("merge-key-with-a-scalar", "<<: 5\nname: x\n", "yaml", "cannot read a value", None),
    ("only-comments", "# nothing here\n\n", "scenario", "file is empty", None),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_scenario_names_file_line_field(tmp_path: Path, case):
    name, text, field, words, marker = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    problems = caught.value.problems
    matching = [p for p in problems if p.field == field]
    assert matching, f"no problem for {field}: {[str(p) for p in problems]}"
    problem = matching[0]
    assert words in problem.message, str(problem)
    assert problem.file == str(path)
    if marker is not None:
        assert problem.line == line_of(text, marker.split("\n")[0]) or marker.count("\n"), str(problem)
        if "\n" not in marker:
            assert problem.line == line_of(text, marker), str(problem)


def test_several_problems_reported_together(tmp_path: Path):
    text = mutate("age: 41", "age: old").replace("minutes: 3", "minutes: -1")
    path = tmp_path / "many.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    fields = {p.field for p in caught.value.problems}
    assert {"personas.1.age", "paths.1.minutes"} <= fields


def test_non_utf8_file(tmp_path: Path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes(TINY.replace("cheerful", "fröhlich").encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert "not valid UTF-8" in problem.message
    assert problem.line == line_of(TINY, "cheerful")


def test_huge_file_is_refused_without_parsing(tmp_path: Path):
    path = tmp_path / "huge.yaml"
    path.write_text(TINY + "# padding\n" * 1_000_000)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert "too large" in caught.value.problems[0].message


def test_alias_bomb_is_refused(tmp_path: Path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        levels.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    path = tmp_path / "bomb.yaml"
    path.write_text("\n".join(levels) + "\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert any("too many aliases" in p.message for p in caught.value.problems)


def test_missing_file_and_directory(tmp_path: Path):
    for target in (tmp_path / "absent.yaml", tmp_path):
        with pytest.raises(ScenarioError) as caught:
            load_scenario(target)
        assert caught.value.problems[0].line == 1


def test_cli_validate_prints_one_line_per_problem_and_exits_2(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(mutate('home: "Home: kitchen"', 'home: "Home: garage"'))
    good = tmp_path / "good.yaml"
    good.write_text(TINY)
    result = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "validate", str(good), str(bad)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    match = LINE.match(lines[0])
    assert match and match["file"] == str(bad) and match["field"] == "personas.1.home"
    assert int(match["line"]) == line_of(bad.read_text(), "Home: garage")
    assert "good.yaml: ok" in result.stdout


def test_bundled_worlds_are_valid():
    root = Path(__file__).resolve().parent.parent / "worlds"
    files = sorted(root.glob("*.yaml"))
    assert len(files) >= 2
    result = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "validate", *map(str, files)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
