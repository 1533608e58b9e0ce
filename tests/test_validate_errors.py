"""Every malformed scenario gets one located line per problem, never a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentville.sim.core.errors import ScenarioError
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

# Issue 13, items 10 and 11: tracebacks or silently accepted before; each is also checked through the CLI below.
ISSUE_13 = [
    ("start-near-year-9999", TINY.split("interventions:")[0].replace("start: 2023-02-13T07:00", "start: 9999-12-31 08:00"),
     "start", "too late", "start: 9999"),
    ("intervention-near-year-9999", mutate("at: 2023-02-13T09:30", "at: 9999-12-31T09:30"), "interventions.0.at",
     "too late", "at: 9999"),
    ("end-near-year-9999", mutate("seed: 3", "seed: 3\nend: 9999-12-31T23:59"), "end", "too late", "end: 9999"),
    ("nan-coordinate", mutate("xy: [0, 0]", "xy: [.nan, 1]"), "places.0.xy.0", "finite number", "xy: [.nan"),
    ("inf-coordinate", mutate("xy: [5, 5]", "xy: [5, -.inf]"), "places.2.xy.1", "finite number", "xy: [5, -.inf"),
    ("infinite-weight", TINY + "cognition: {recency_weight: .inf}\n", "cognition.recency_weight", "finite number",
     "cognition:"),
    ("nul-byte", mutate("seed: 3", "seed: 3\x00"), "scenario", "binary file", None),
    ("control-character", mutate("traits: quiet", "traits: qu\x1biet"), "yaml", "control character U+001B",
     "traits: qu"),
]
CASES += ISSUE_13

# Issue 15: what residents know of their town, names free text uses, empty list items.
BOB = "    traits: quiet\n"
ISSUE_15 = [
    ("empty-daily-requirement", mutate(BOB, BOB + '    daily_requirements: [read the paper, "  "]\n'),
     "personas.1.daily_requirements.1", "an empty item", "daily_requirements: [read"),
    ("empty-daily-requirement-in-a-block", mutate(BOB, BOB + '    daily_requirements:\n      - read\n      - ""\n'),
     "personas.1.daily_requirements.1", "an empty item", '- ""'),
    ("empty-memory", mutate(BOB, BOB + "    memories: ['', Bob reads]\n"), "personas.1.memories.0", "an empty item",
     "memories: [''"),
    ("knows-unknown-place", mutate(BOB, BOB + "    knows: [Cafe, Prak]\n"), "personas.1.knows.1",
     "unknown place 'Prak' (did you mean 'Park'?)", "knows: [Cafe, Prak]"),
    ("knows-an-area", mutate(BOB, BOB + '    knows: ["Cafe: hall"]\n'), "personas.1.knows.0", "names an area",
     "knows: ["),
    ("routine-place-suggested-as-said", mutate('"Cafe: hall: table"', '"the cafe: hall: table"'),
     "personas.1.routine.1.place", "unknown place 'the cafe' (did you mean 'Cafe'?)", "the cafe: hall: table"),
    ("alias-is-another-place", mutate("  - name: Park\n", "  - name: Park\n    aliases: [the Cafe]\n"),
     "places.2.aliases.0", "reads the same as place 'Cafe' (name)", "aliases: [the Cafe]"),
    ("alias-is-another-alias", mutate("  - name: Cafe\n", "  - name: Cafe\n    aliases: [coffee house]\n").replace(
        "  - name: Park\n", "  - name: Park\n    aliases: [Coffee Houses]\n"),
     "places.2.aliases.0", "alias 'coffee house'", "aliases: [Coffee Houses]"),
    ("empty-alias", mutate("  - name: Park\n", "  - name: Park\n    aliases: ['']\n"), "places.2.aliases.0",
     "an empty item", "aliases: ['']"),
    ("alias-of-no-word", mutate("  - name: Park\n", "  - name: Park\n    aliases: [the]\n"), "places.2.aliases.0",
     "no word", "aliases: [the]"),
    ("unknown-residents-know", TINY + "town: {residents_know: everything}\n", "town.residents_know", "'public' or 'own'",
     "town:"),
    ("no-neighbourhood", TINY + "town: {public_within_minutes: 0}\n", "town.public_within_minutes",
     "greater than 0", "town:"),
]
CASES += ISSUE_15


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


def agentville(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def one_line(result: subprocess.CompletedProcess, path: Path, field: str, code: int = 2) -> re.Match:
    """The command failed (or warned) with exactly one located line on stderr, and no traceback."""
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    match = LINE.match(lines[0])
    assert match and match["file"] == str(path) and match["field"] == field, lines[0]
    return match


@pytest.mark.parametrize("case", ISSUE_13, ids=[c[0] for c in ISSUE_13])
def test_cli_validate_issue_13_cases_are_one_line(tmp_path: Path, case):
    name, text, field, words, marker = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    match = one_line(agentville("validate", str(path)), path, field)
    assert words in match["msg"]
    if marker is not None:
        assert int(match["line"]) == line_of(text, marker)


@pytest.mark.parametrize("case", ISSUE_15, ids=[c[0] for c in ISSUE_15])
def test_cli_validate_issue_15_cases_are_one_line(tmp_path: Path, case):
    name, text, field, words, marker = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    match = one_line(agentville("validate", str(path)), path, field)
    assert words in match["msg"] and int(match["line"]) == line_of(text, marker)


def test_a_start_near_year_9999_is_refused_by_validate_and_run(tmp_path: Path):
    """start + the default day used to overflow (a traceback at run); now the start itself is refused."""
    text = ISSUE_13[0][1]
    path = tmp_path / "late.yaml"
    path.write_text(text)
    for args in (["validate", str(path)], ["run", str(path), "--llm", "fake", "--db", str(tmp_path / "a.db")],
                 ["run", str(path), "--llm", "fake", "--db", str(tmp_path / "b.db"), "--until", "+1h"]):
        match = one_line(agentville(*args), path, "start")
        assert "too late" in match["msg"] and int(match["line"]) == line_of(text, "start: 9999")


@pytest.mark.parametrize("until", ["9999-06-01T00:00", "+2913300d"])
def test_until_past_the_end_of_simulated_time_is_one_line(tiny_path: Path, tmp_path: Path, until):
    """Within the calendar but past the end of simulated time: refused, not simulated for 8000 years."""
    result = agentville("run", str(tiny_path), "--llm", "fake", "--db", str(tmp_path / "a.db"), "--until", until,
                        timeout=30)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == f"agentville: error: --until {until}: too late; simulated times end at " \
                                    "9999-01-01T00:00"


@pytest.mark.parametrize("end, words", [("end: 2023-02-13T09:00", "(2023-02-13 09:00)"),
                                        (None, "(2023-02-14 07:00, a day after the start)")])
def test_an_intervention_after_the_end_is_a_one_line_warning(tmp_path: Path, end, words):
    """Valid (a longer --until reaches it), but by default it never happens: say so at validate and at run."""
    text = TINY if end else TINY.replace("at: 2023-02-13T09:30", "at: 2023-02-14T09:30")
    text = text.replace("seed: 3", f"seed: 3\n{end}") if end else text
    path = tmp_path / "late.yaml"
    path.write_text(text)
    checked = agentville("validate", str(path))
    match = one_line(checked, path, "interventions.0.at", code=0)
    assert match["msg"].startswith("warning: ") and words in match["msg"] and "--until" in match["msg"]
    assert int(match["line"]) == line_of(text, "- at: 2023-02-1") and "ok" in checked.stdout
    ran = agentville("run", str(path), "--llm", "fake", "--db", str(tmp_path / "a.db"), "--no-progress",
                     "--until", "2023-02-13T09:00")
    assert one_line(ran, path, "interventions.0.at", code=0)["msg"] == match["msg"]


def _sqlite_bytes(tmp_path: Path) -> bytes:
    import sqlite3

    db = tmp_path / "store.db"
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE t (x)")
    return db.read_bytes()


BINARIES = {
    "png": lambda _: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(40),
    "sqlite": _sqlite_bytes,
    "random": lambda _: __import__("random").Random(13).randbytes(4096),
    "zeros": lambda _: bytes(100),
    "utf16": lambda _: TINY.encode("utf-16"),
}


@pytest.mark.parametrize("kind", BINARIES)
def test_a_binary_file_is_one_line_naming_it(tmp_path: Path, kind):
    """A NUL byte made PyYAML's two-line reader message; binary input is now named as such, on line 1."""
    path = tmp_path / f"{kind}.yaml"
    path.write_bytes(BINARIES[kind](tmp_path))
    for args in (["validate", str(path)], ["run", str(path), "--llm", "fake", "--db", str(tmp_path / "a.db")]):
        match = one_line(agentville(*args), path, "scenario")
        assert match["line"] == "1"
        assert ("UTF-16" if kind == "utf16" else "a binary file, not a YAML scenario") in match["msg"]
