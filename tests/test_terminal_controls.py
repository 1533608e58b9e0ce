"""Text is data on the terminal too (issue 26): names and texts refuse control and bidi characters, output escapes them.

An ESC in an agent's name, an OSC 52 in a memory or a U+202E in a place name
would, printed raw, clear the screen, write the clipboard or show text in
another order. Scenario files (and sweep files, stored scenarios, the GA
importer's files, what an experiment is handed) refuse them with one line
naming file, line, field and code point; every command escapes them in what it
prints (``\\x1b``, ``\\u202e``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from agentville.sim.cli import main
from agentville.sim.core.errors import ScenarioError, UserError
from agentville.sim.store.eventstore import EventStore

from .conftest import ROOT, TINY

# (label, the YAML escape written in a double-quoted string, what the error says of the character)
ATTACKS = [
    ("clear-screen", r"\e[2J", "control character U+001B (ESC)"),
    ("osc52-clipboard", r"\e]52;c;cm0gLXJmIH4=\a", "control character U+001B (ESC)"),
    ("osc8-hyperlink", r"\e]8;;https://evil.example/\e\\Ann\e]8;;\e\\", "control character U+001B (ESC)"),
    ("nul", r"\0", "control character U+0000 (NUL)"),
    ("c1-csi", r"\x9b2J", "control character U+009B (CSI)"),
    ("rlo", r"\u202e", "bidirectional-override character U+202E (RLO)"),
    ("lri", r"\u2066", "bidirectional-override character U+2066 (LRI)"),
    ("rlm", r"\u200f", "bidirectional-override character U+200F (RLM)"),
    ("del", r"\x7f", "control character U+007F (DEL)"),
    ("bell", r"\a", "control character U+0007 (BEL)"),
    ("carriage-return", r"\r", "control character U+000D (CR)"),
]
# (field as reported, what in TINY to replace, the replacement around {bad}; the line is the replacement's)
FIELDS = [
    ("personas.0.name", "  - name: Ann\n", '  - name: "An{bad}n"\n'),
    ("places.0.name", "  - name: Cafe\n", '  - name: "Ca{bad}fe"\n'),
    ("places.1.areas.1.name", "      - name: kitchen\n", '      - name: "kit{bad}chen"\n'),
    ("places.0.areas.0.objects.1", "objects: [counter, table]", 'objects: [counter, "ta{bad}ble"]'),
    ("name", "name: Tiny town\n", 'name: "Tiny{bad} town"\n'),
    ("description", "start: 2023-02-13T07:00\n", 'description: "A town.\\n{bad}"\nstart: 2023-02-13T07:00\n'),
    ("personas.0.traits", "traits: cheerful", 'traits: "cheer{bad}ful"'),
    ("personas.0.memories.1", "memories: Ann runs the cafe; Ann likes the park",
     'memories: ["Ann runs the cafe", "Ann likes{bad} the park"]'),
    ("personas.1.routine.1.activity", "activity: reading,", 'activity: "read{bad}ing",'),
    ("interventions.0.text", "text: I should ask Ann about the party.", 'text: "I should ask{bad} Ann."'),
]
LINE = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.*)$")
RAW = ["\x1b", "\x07", "\x00", "\x9b", "\u202e", "\x7f", "\r"]


def with_bad(field_case: tuple[str, str, str], bad: str) -> tuple[str, int]:
    """TINY with one field holding ``bad``, and the line it is on."""
    _, old, new = field_case
    assert TINY.count(old) >= 1, old
    changed = new.replace("{bad}", bad)
    text = TINY.replace(old, changed, 1)
    first = changed.strip().splitlines()[0]
    line = next(n for n, row in enumerate(text.splitlines(), 1) if first in row)
    return text, line


def validate(path: Path, capsys) -> tuple[int, str, str]:
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line(err: str, path: Path | str, line: int, field: str, words: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    match = LINE.match(lines[0])
    assert match, lines[0]
    assert (match["file"], int(match["line"]), match["field"]) == (str(path), line, field), lines[0]
    assert words in match["msg"] and "names and texts may not hold control or bidirectional" in match["msg"]
    assert not any(raw in err for raw in RAW)


@pytest.mark.parametrize("field_case", FIELDS, ids=[f[0] for f in FIELDS])
@pytest.mark.parametrize("attack", ATTACKS, ids=[a[0] for a in ATTACKS])
def test_a_scenario_with_a_control_or_bidi_character_is_one_line_exit_2(tmp_path, capsys, field_case, attack):
    _, bad, character = attack
    text, line = with_bad(field_case, bad)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, out, err = validate(path, capsys)
    assert code == 2 and out == ""
    assert_one_line(err, path, line, field_case[0], f"contains the {character};")


@pytest.mark.parametrize("bad, field_case", [
    (r"\n", FIELDS[0]), (r"\t", FIELDS[1]), (r"\n", FIELDS[4]), (r"\t", FIELDS[8]),
], ids=["newline-in-agent-name", "tab-in-place-name", "newline-in-scenario-name", "tab-in-activity"])
def test_a_name_is_one_line(tmp_path, capsys, bad, field_case):
    text, line = with_bad(field_case, bad)
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    code, _, err = validate(path, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}:{line}: {field_case[0]}: contains the control character U+00" in err
    assert "one-line field is one line" in err


def test_texts_may_hold_line_breaks_and_tabs_and_any_script(tmp_path, capsys):
    text = TINY.replace("traits: cheerful", 'traits: "cheerful,\\tkind\\nand patient"').replace(
        "name: Tiny town\n", "name: Tiny town\ndescription: |\n  Two lines\n  \tof text — עברית, العربية, 日本語.\n")
    path = tmp_path / "ok.yaml"
    path.write_text(text.replace("name: Park", "name: Parc Zoë").replace("Park:", "Parc Zoë:").replace(
        "[Home, Park]", "[Home, Parc Zoë]").replace("[Park, Cafe]", "[Parc Zoë, Cafe]"))
    code, out, err = validate(path, capsys)
    assert code == 0 and err == "" and "ok (Tiny town" in out


def test_a_key_holding_a_control_character_is_refused(tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("seed: 3\n", 'seed: 3\n"se\\e[2Jed": 4\n'))
    code, _, err = validate(path, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert f"{path}:4: se\\x1b[2Jed: a key contains the control character U+001B (ESC)" in err


def test_a_raw_control_byte_in_the_file_is_one_line_with_its_name(tmp_path, capsys):
    path = tmp_path / "raw.yaml"
    path.write_bytes(TINY.replace("traits: quiet", "traits: qu\x1b[2Jiet").encode())
    code, _, err = validate(path, capsys)
    assert code == 2 and "U+001B (ESC)" in err and "\x1b" not in err and len(err.strip().splitlines()) == 1


def test_the_cli_end_to_end_exits_2_with_one_escaped_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(TINY.replace("  - name: Ann\n", '  - name: "Ann\\e]52;c;aGk=\\a\\u202e"\n'))
    for command in (["validate", str(path)], ["run", str(path), "--llm", "fake", "--until", "+1h", "--db", str(tmp_path / "r.db")]):
        done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", *command], capture_output=True, cwd=ROOT)
        assert done.returncode == 2 and b"Traceback" not in done.stderr
        line = done.stderr.decode()
        assert line.count("\n") == 1 and f"{path}:" in line and ": personas.0.name: contains the control character " \
            "U+001B (ESC)" in line
        assert not any(raw.encode() in done.stderr + done.stdout for raw in RAW)


@pytest.mark.parametrize("where, text, field", [
    ("llm", 'llm: "fa\\e[2Jke"', "llm"),
    ("model", 'model: "gpt\\x9b"', "model"),
    ("out", 'out: "runs/\\u202eexe.db"', "out"),
    ("grid", 'grid:\n  model: ["a", "b\\0"]', "grid.model.1"),
])
def test_a_sweep_file_with_a_control_character_is_one_line_exit_2(tmp_path, capsys, tiny_path, where, text, field):
    path = tmp_path / "s.yaml"
    path.write_text(f"scenario: {tiny_path}\nuntil: +1h\n{text}\n" + ("llm: fake\n" if where != "llm" else ""))
    code = main(["sweep", str(path), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert_one_line(err, path, 3 if where != "grid" else 4, field, "contains the")


def test_an_experiment_refuses_control_characters_in_files_and_in_what_it_is_handed(tmp_path, tiny_path):
    from agentville.sim.generation import FakeBackend
    from agentville.sim.lab.experiment import Experiment
    from agentville.sim.scenario import load_scenario

    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("  - name: Cafe\n", '  - name: "Cafe\\e[2J"\n'))
    with pytest.raises(ScenarioError, match=r"bad.yaml:\d+: places.0.name: contains the control character U\+001B"):
        Experiment(bad, db=tmp_path / "e.db", backend=FakeBackend())
    built = load_scenario(tiny_path).model_copy(update={"description": "x\u202ey"})
    with pytest.raises(UserError, match=r"scenario: description: contains the bidirectional-override .* U\+202E"):
        Experiment(built, db=tmp_path / "b.db", backend=FakeBackend())
    with Experiment(tiny_path, db=tmp_path / "ok.db", backend=FakeBackend()) as exp:
        for act, words in [
            (lambda: exp.whisper("Ann", "hello\x1b]52;c;aGk=\x07"), "whisper: text: contains the control character U+001B"),
            (lambda: exp.whisper("Ann\x9b", "hello"), "whisper: agent: contains the control character U+009B (CSI)"),
            (lambda: exp.interview("Ann", "how are you?\x00"), "interview: question: contains the control character "
                                                                 "U+0000 (NUL)"),
            (lambda: exp.interview_all("what now\u2067?"), "interview_all: question: contains the bidirectional"),
            (lambda: exp.set_object("Cafe: hall: table", "on\x1b[8m fire"), "set_object: state: contains the control"),
            (lambda: exp.add_agent({"name": "Cleo\u202e", "age": 27, "traits": "curious", "home": "Home: kitchen"}),
             "add_agent: name: contains the bidirectional-override character U+202E (RLO)"),
        ]:
            with pytest.raises(UserError) as caught:
                act()
            assert words in str(caught.value)
        assert exp.interview("Ann", "two lines?\nyes\tplease")  # a question may span lines


def test_fork_changes_with_a_control_character_are_one_line(tmp_path, tiny_path, capsys):
    db = tmp_path / "f.db"
    assert main(["run", str(tiny_path), "--llm", "fake", "--until", "+2h", "--db", str(db), "--no-progress"]) == 0
    changes = tmp_path / "changes.yaml"
    changes.write_text('interventions:\n  - {at: 2023-02-13T08:30, agent: Bob, text: "hi\\e[2J"}\n')
    capsys.readouterr()
    assert main(["fork", str(db), "--at", "+1h", "--scenario", str(changes), "--llm", "fake", "--no-progress"]) == 2
    _, err = capsys.readouterr()
    assert err.strip() == (f"agentville: error: {changes}: interventions.0.text: contains the control character "
                           "U+001B (ESC); names and texts may not hold control or bidirectional-override characters")


def test_a_stored_scenario_holding_control_characters_is_refused_on_resume_but_its_events_read(tmp_path, capsys):
    db = tmp_path / "old.db"
    text = TINY.replace("  - name: Ann\n", '  - name: "Ann\\e[2J"\n')
    with EventStore(db) as store:
        run_id = store.start_run(scenario="Tiny town", seed=3, sim_start=dt.datetime(2023, 2, 13, 7),
                                 sim_until=dt.datetime(2023, 2, 13, 9), scenario_text=text,
                                 settings={"llm": "fake"})
        writer = store.writer(run_id)
        writer.append(1, 0.0, "placed", "Ann\x1b[2J", {"location": "Home: bedroom"})
        writer.flush()
        store.end_run(run_id, "stopped", sim_reached=0.0)
    assert main(["resume", str(db), "--llm", "fake", "--no-progress"]) == 2
    _, err = capsys.readouterr()
    assert_one_line(err, f"run {run_id} (stored scenario)", text.splitlines().index('  - name: "Ann\\e[2J"') + 1,
                    "personas.0.name", "contains the control character U+001B (ESC)")
    assert main(["events", str(db)]) == 0
    out, _ = capsys.readouterr()
    assert "Ann\\x1b[2J" in out and "\x1b" not in out


# -- output ----------------------------------------------------------------------------------------

HOSTILE = {  # what a model, a scenario or a hand-edited store may put in the text a command prints
    "agent": "Ann\x1b]8;;https://evil.example/\x1b\\Ann\x1b]8;;\x1b\\",
    "utterance": "Hi!\x1b[2J\x1b]52;c;cm0gLXJmIH4=\x07 see you\u202e at noon\x9b1m\x00",
    "memory": "evil\x1b]0;owned\x07title\rover",
    "scenario": "Tiny\x1b[2J town\u2066",
    "llm": "fake\x1b[31m",
}


@pytest.fixture()
def hostile_store(tmp_path) -> Path:
    db = tmp_path / "hostile.db"
    with EventStore(db) as store:
        run_id = store.start_run(scenario=HOSTILE["scenario"], seed=1, sim_start=dt.datetime(2023, 2, 13, 7),
                                 settings={"llm": HOSTILE["llm"]})
        writer = store.writer(run_id)
        writer.append(1, 0.0, "utterance", HOSTILE["agent"], {"text": HOSTILE["utterance"], "to": "Bob\u202e"})
        writer.append(2, 60.0, "memory", HOSTILE["agent"], {"text": HOSTILE["memory"], "kind": "event"})
        writer.append(3, 120.0, "llm_call", HOSTILE["agent"], {"purpose": "talk\x1b[2J", "fallback": False,
                                                               "prompt_tokens": 3, "output_tokens": 2,
                                                               "text": HOSTILE["utterance"]}, {"latency_s": 0.1})
        writer.flush()
        store.end_run(run_id, "failed", sim_reached=120.0, error="the model said \x1b]52;c;aGk=\x07")
    return db


@pytest.mark.parametrize("command", [
    ["events"], ["events", "--csv", "-"], ["events", "--tidy", "--csv", "-", "--kind", "utterance"],
    ["events", "--agent", HOSTILE["agent"]], ["stats"], ["runs"],
], ids=["events-table", "events-csv", "events-tidy-csv", "events-agent", "stats", "runs"])
def test_commands_print_no_raw_control_characters(hostile_store, command):
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", command[0], str(hostile_store), *command[1:]],
                          capture_output=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    printed = (done.stdout + done.stderr).decode()
    assert not [raw for raw in RAW if raw in printed], printed
    assert "\\x1b" in printed  # shown written out, not dropped


def test_the_events_table_shows_each_character_written_out(hostile_store, capsys):
    assert main(["events", str(hostile_store)]) == 0
    out, _ = capsys.readouterr()
    assert "Ann\\x1b]8;;https://evil.example/\\x1b\\Ann" in out
    assert "Hi!\\x1b[2J\\x1b]52;c;cm0gLXJmIH4=\\x07 see you\\u202e at noon\\x9b1m\\x00" in out
    assert "evil\\x1b]0;owned\\x07title\\x0dover" in out


def test_a_user_error_quoting_input_stays_one_escaped_line(hostile_store, capsys):
    assert main(["events", str(hostile_store), "--agent", "Bob\n\x1b[2JAnn"]) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1 and "Bob\\x0a\\x1b[2JAnn" in err and "\x1b" not in err


def test_the_run_summary_escapes_a_path_holding_control_characters(tmp_path, tiny_path, capsys):
    db = tmp_path / "a\x1b]52;c;aGk=\x07.db"
    assert main(["run", str(tiny_path), "--llm", "fake", "--until", "+1h", "--db", str(db), "--no-progress"]) == 0
    out, _ = capsys.readouterr()
    assert "a\\x1b]52;c;aGk=\\x07.db" in out and "\x1b" not in out and "\x07" not in out


def test_the_ga_importer_refuses_control_characters_in_its_files(tmp_path):
    from agentville.sim.ga.importer import import_ga

    from .test_import_ga import write_maze, write_storage

    storage, maze = write_storage(tmp_path / "sim"), write_maze(tmp_path / "matrix")
    scratch = storage / "personas" / "Bo Fenn" / "bootstrap_memory" / "scratch.json"
    data = json.loads(scratch.read_text())
    for key, value, words in [("innate", "kind\x1b[2J", "innate: contains the control character U+001B (ESC)"),
                              ("currently", "baking\u202e", "currently: contains the bidirectional-override")]:
        scratch.write_text(json.dumps({**data, key: value}))
        with pytest.raises(UserError) as caught:
            import_ga(storage, maze=maze)
        assert str(caught.value).startswith(f"{scratch}: {words}")
    scratch.write_text(json.dumps(data))
    blocks = maze / "special_blocks" / "sector_blocks.csv"
    blocks.write_text(blocks.read_text().replace("Quill Library", "Quill\x9b Library"))
    with pytest.raises(UserError, match=r"sector_blocks.csv: row 2: the name contains the control character U\+009B"):
        import_ga(storage, maze=maze)


# -- the two functions everything above rests on ------------------------------------------------------

@pytest.mark.parametrize("text, shown", [
    ("\x1b[2J", "\\x1b[2J"), ("\x1b]52;c;aGk=\x07", "\\x1b]52;c;aGk=\\x07"), ("a\x00b", "a\\x00b"),
    ("\x9b1m", "\\x9b1m"), ("\u202eabc", "\\u202eabc"), ("\u2066x\u2069", "\\u2066x\\u2069"),
    ("\x7f", "\\x7f"), ("line\r", "line\\x0d"), ("two\nlines\tand tab", "two\nlines\tand tab"),
    ("Zoë — עברית 日本語 \\x1b", "Zoë — עברית 日本語 \\x1b"),
])
def test_escape_writes_out_what_a_terminal_would_obey(text, shown):
    from agentville.sim.core.controls import escape

    assert escape(text) == shown


def test_stderr_keeps_what_progress_bars_draw_with_and_nothing_else(capsys):
    from tqdm import tqdm

    from agentville.sim.cli.terminal import escaped_output
    from agentville.sim.core.controls import escape

    with escaped_output():
        with tqdm(total=2, desc="Tiny\x1b]0;t\x07", file=None, disable=False) as bar:
            bar.update(1)
            print("\x1b[A", file=sys.stderr)
    _, err = capsys.readouterr()
    assert "\r" in err and "Tiny\\x1b]0;t\\x07" in err and "\x07" not in err
    assert escape("\x1b[A\x1b[2J", keep={"\x1b[A"}) == "\x1b[A\\x1b[2J"


@pytest.mark.parametrize("text, line_breaks, found", [
    ("Ann", False, None), (" Ann\n", False, None), ("A\nnn", False, "\n"), ("A\tnn", True, None),
    ("A\rnn", True, "\r"), ("\u200eAnn", False, "\u200e"), ("\u061cAnn", True, "\u061c"), ("Ann\x85", True, "\x85"),
])
def test_first_unsafe(text, line_breaks, found):
    from agentville.sim.core.controls import first_unsafe

    assert first_unsafe(text, line_breaks=line_breaks) == found
