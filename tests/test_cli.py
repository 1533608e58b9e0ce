"""The command line, end to end in subprocesses, as a user would run it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pandas as pd
import pytest

from agentville.sim.store.eventstore import EventStore

from .conftest import ROOT, WORLDS, error_lines, kill_after_events


def agentville(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", *args], capture_output=True, text=True, cwd=ROOT,
                          **kwargs)


@pytest.mark.parametrize("command", [[], ["run"], ["validate"], ["events"], ["runs"]])
def test_help_everywhere(command):
    result = agentville(*command, "--help")
    assert result.returncode == 0 and "usage: agentville" in result.stdout


def test_smallville_day_moves_and_acts_every_agent(tmp_path):
    db = tmp_path / "a.db"
    result = agentville("run", str(WORLDS / "smallville.yaml"), "--llm", "fake", "--until", "+1d", "--db", str(db))
    assert result.returncode == 0, result.stderr
    assert "finished" in result.stdout and str(db) in result.stdout
    frame = EventStore(db).events()
    residents = set(frame.loc[frame.kind == "run_started", "data"].iloc[0]["agents"])
    assert len(residents) == 25
    for kind in ("move", "action"):
        assert set(frame.loc[frame.kind == kind, "agent"]) == residents, kind
    actions = frame[frame.kind == "action"]
    hours = actions.groupby("agent")["time"].agg(lambda t: (t.max() - t.min()).total_seconds() / 3600)
    assert (hours >= 12).all(), hours[hours < 12]  # each resident acts from morning to night
    # cognition: every resident plans its day, acts at several places, perceives and remembers
    plans = frame[frame.kind == "plan"]
    assert set(plans[plans.data.map(lambda d: d["level"] == "day")].agent) == residents
    places = actions.data.map(lambda d: d["location"].split(":")[0]).groupby(actions.agent).nunique()
    assert (places >= 2).all(), places[places < 2]
    memories = frame[frame.kind == "memory"]
    perceived = memories[memories.data.map(lambda d: d["kind"] == "event" and d["subject"] is not None)]
    assert set(perceived.agent) == residents and set(memories.agent) == residents
    # ... and the town is social and reflective
    assert (frame.kind == "conversation_end").sum() >= 25 and (frame.kind == "utterance").sum() >= 75
    assert frame[frame.kind == "reflection"].agent.nunique() >= 10


def test_run_summary_events_export(tmp_path):
    db = tmp_path / "v.db"
    result = agentville("run", str(WORLDS / "the_ville_3.yaml"), "--until", "+6h", "--db", str(db), "--seed", "5",
                        "--llm", "fake")
    assert result.returncode == 0, result.stderr
    assert "agents     3" in result.stdout
    listing = agentville("events", str(db), "--kind", "move", "--agent", "Klaus Mueller")
    assert listing.returncode == 0 and listing.stdout.count("move") >= 1
    assert all("Klaus Mueller" in line for line in listing.stdout.splitlines())
    csv, parquet = tmp_path / "e.csv", tmp_path / "e.parquet"
    assert agentville("events", str(db), "--csv", str(csv)).returncode == 0
    assert agentville("events", str(db), "--parquet", str(parquet)).returncode == 0
    from_csv, from_parquet = pd.read_csv(csv), pd.read_parquet(parquet)
    assert len(from_csv) == len(from_parquet) == EventStore(db).count_events(EventStore(db).run()["run_id"])
    runs = agentville("runs", str(db))
    assert "finished" in runs.stdout and "seed 5" in runs.stdout


@pytest.mark.parametrize("args, words", [
    (["run", "worlds/the_ville_3.yaml", "--llm", "fake", "--until", "tomorrow"], "cannot read 'tomorrow'"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "fake", "--until", "2020-01-01T00:00"],
     "not after the scenario start"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "gpt9"], "unknown backend"),
    (["run", "worlds/nowhere.yaml"], "cannot read file"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9"],
     "cannot reach the OpenAI-compatible server"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "transformers"], "needs a model"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "transformers", "--model", "/nonexistent/m.gguf"], "does not exist"),
    (["events", "/nonexistent/x.db"], "no such event store"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "fake", "--until", "+99999999999d"], "past the year 9999"),
    (["run", "worlds/the_ville_3.yaml", "--llm", "fake", "--db", "pyproject.toml/x.db"], "is a file, not a folder"),
    (["runs", "pyproject.toml"], "not a readable event store"),
])
def test_bad_input_is_one_line_and_exit_2(args, words):
    result = agentville(*args)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert len(error_lines(result.stderr)) == 1 and words in result.stderr, result.stderr


def test_sigkill_leaves_readable_store_marked_unfinished(tmp_path):
    db = tmp_path / "killed.db"
    proc = subprocess.Popen([sys.executable, "-m", "agentville.sim.cli", "run", str(WORLDS / "smallville.yaml"),
                             "--llm", "fake", "--until", "+400d", "--db", str(db), "--no-progress"],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kill_after_events(proc, db, 5000)
    store = EventStore(db, read_only=True)
    (run,) = store.runs()
    assert run["status"] == "crashed"  # recorded 'running', and its process is gone
    seqs = [e.seq for e in store.iter_events(run["run_id"])]
    assert len(seqs) >= 5000 and seqs == list(range(1, len(seqs) + 1))  # every committed event, no gaps
    listing = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "runs", str(db)], capture_output=True, text=True,
                             cwd=ROOT)
    assert "crashed" in listing.stdout


def test_out_of_order_from_the_command_line_logs_what_in_order_logs(tmp_path):
    logs = []
    for scheduling in ("in-order", "out-of-order"):
        db = tmp_path / f"{scheduling}.db"
        result = agentville("run", str(WORLDS / "the_ville_3.yaml"), "--until", "+10h", "--db", str(db), "--llm", "fake",
                            "--scheduling", scheduling, "--no-progress")
        assert result.returncode == 0, result.stderr
        with EventStore(db, read_only=True) as store:
            logs.append([(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(store.run()["run_id"])])
    assert len(logs[0]) > 300 and logs[0] == logs[1]
    assert "--scheduling" in agentville("resume", "--help").stdout


@pytest.mark.parametrize("command", [["resume"], ["fork", "--at", "+1h"], ["run", "worlds/the_ville_3.yaml", "--llm",
                                                                        "fake", "--db"]])
def test_another_programs_sqlite_file_is_refused_in_one_line_and_left_alone(tmp_path, command):
    path = tmp_path / "contacts.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts (name TEXT)")
    before = path.read_bytes()
    args = [*command, str(path)] if command[0] == "run" else [command[0], str(path), *command[1:]]
    result = agentville(*args)
    assert result.returncode == 2 and "another program's SQLite file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["contacts.db"]


def test_events_with_an_unknown_kind_or_agent_says_so(tmp_path):
    """They used to print nothing and exit 0."""
    db = tmp_path / "v.db"
    assert agentville("run", str(WORLDS / "the_ville_3.yaml"), "--until", "+1h", "--db", str(db), "--llm", "fake",
                      "--no-progress").returncode == 0
    kind = agentville("events", str(db), "--kind", "utterence")
    assert kind.returncode == 2 and "no such event kind (did you mean 'utterance'?)" in kind.stderr
    agent = agentville("events", str(db), "--agent", "Klaus Muller")
    assert agent.returncode == 2 and "did you mean 'Klaus Mueller'?" in agent.stderr
    assert len(kind.stderr.strip().splitlines()) == len(agent.stderr.strip().splitlines()) == 1
    nowhere = agentville("events", str(db), "--csv", str(tmp_path / "missing" / "e.csv"))  # was a traceback
    assert nowhere.returncode == 2 and len(nowhere.stderr.strip().splitlines()) == 1, nowhere.stderr


def test_dashboard_on_a_port_in_use_says_so_before_announcing_itself(tmp_path):
    import socket

    db = tmp_path / "run.db"
    EventStore(db).close()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "dashboard", str(db), "--address",
                               "127.0.0.1", "--port", str(port), "--headless"], capture_output=True, text=True,
                              cwd=ROOT, timeout=60)
    assert done.returncode == 2 and "Dashboard on" not in done.stderr
    assert done.stderr.strip().splitlines() == [
        f"agentville: error: cannot serve the dashboard on 127.0.0.1:{port}: Address already in use "
        "(is another dashboard running? pick another with --port)"]
