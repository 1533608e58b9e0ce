"""Faults and crashes never splice or lose history (issue 13: data integrity and faults)."""

from __future__ import annotations

import concurrent.futures
import datetime as dt
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentville.sim.cli import main
from agentville.sim.core.errors import UserError
from agentville.sim.generation import FakeBackend, GenerationFailed, request_key
from agentville.sim.generation.requests import Completion, Request
from agentville.sim.runtime.runner import open_run
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, WORLDS, error_lines, kill_after_events, wait_for_events
from tests.servers import FakeOpenAIServer, free_port

EXIT_STOPPED = 3  # the documented code of a run that stopped on purpose

SCENARIO = WORLDS / "the_ville_3.yaml"


class FlakyBackend(FakeBackend):
    """The fake's answers, except that about one request in four fails the first time it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: set[str] = set()

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        key = request_key(self.model_id, request)
        if int(key[:2], 16) % 4 == 0 and key not in self.failed:
            self.failed.add(key)
            future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
            future.set_exception(GenerationFailed("scripted fault"))
            return future
        return super().submit(request)


class Otherwise(FakeBackend):
    """Another model: the fake's answers to slightly different seeds."""

    def answer(self, request: Request) -> Completion:
        return super().answer(type(request)(**{**request.__dict__, "seed": request.seed + 1}))


def rows(store: EventStore, run_id: str) -> list[tuple]:
    return [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(run_id)]


def crash_midway(db, backend, hours: float, until_hours: float) -> str:
    """A run stopped at ``hours`` (as a crash leaves it: everything logged so far stored)."""
    with open_run(SCENARIO, db=db, backend=backend) as sim:
        until = sim.scenario.start + dt.timedelta(hours=until_hours)
        run_id = sim.start(until)
        sim.advance(sim.scenario.start + dt.timedelta(hours=hours))
        sim.finish("interrupted", "stopped by the test")
    return run_id


def test_a_resume_reuses_the_fallbacks_the_stored_log_used(tmp_path):
    db = tmp_path / "flaky.db"
    run_id = crash_midway(db, FlakyBackend(), 2, 4)
    with EventStore(db) as store:
        stored = rows(store, run_id)
        assert any(e[2] == "fallback" for e in stored) or any(
            e[2] == "llm_call" and e[4].get("fallback") for e in stored)
    with open_run(SCENARIO, db=db, backend=FakeBackend()) as sim:  # the server is healthy again
        sim.run(sim.scenario.start + dt.timedelta(hours=4), resume=run_id)
    with open_run(SCENARIO, db=db, backend=FakeBackend(), cache_mode="read-only") as replay:
        replayed = replay.run(replay.scenario.start + dt.timedelta(hours=4)).run_id
    with EventStore(db) as store:
        resumed = rows(store, run_id)
        assert resumed[:len(stored)] == stored  # what was stored stays
        strip = lambda log: [e[1:] for e in log if e[2] != "run_started"]
        assert strip(resumed) == strip(rows(store, replayed))  # one history: the answers the log used


def test_a_resume_that_cannot_reproduce_the_stored_log_stops_instead_of_splicing(tmp_path):
    db = tmp_path / "lost.db"
    run_id = crash_midway(db, FakeBackend(), 2, 4)
    with EventStore(db) as store:
        stored = rows(store, run_id)
        with store.db:
            store.db.execute("DELETE FROM llm_cache")  # the answers are gone
    with pytest.raises(UserError, match="the resume cannot reproduce"):
        with open_run(SCENARIO, db=db, backend=Otherwise()) as sim:
            sim.run(sim.scenario.start + dt.timedelta(hours=4), resume=run_id)
    with EventStore(db) as store:
        assert rows(store, run_id) == stored  # nothing spliced on
        run = store.run(run_id)
        assert run["status"] == "failed" and "cannot reproduce" in run["error"]


def test_a_fork_that_cannot_reproduce_its_parent_stops_instead_of_splicing(tmp_path):
    db = tmp_path / "parent.db"
    with open_run(SCENARIO, db=db, backend=FakeBackend()) as sim:
        parent = sim.run(sim.scenario.start + dt.timedelta(hours=3)).run_id
    with EventStore(db) as store, store.db:
        store.db.execute("DELETE FROM llm_cache")
    with pytest.raises(UserError, match="the fork cannot reproduce"):
        with open_run(SCENARIO, db=db, backend=Otherwise()) as sim:
            sim.run(sim.scenario.start + dt.timedelta(hours=3), parent=parent, fork_time=3600.0)


# ----- runs that stop on purpose: one line, the run marked, a documented exit code (item 7) -----

def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=300)


def assert_stopped_in_one_line(done: subprocess.CompletedProcess, *words: str) -> None:
    assert done.returncode == EXIT_STOPPED, done.stderr
    assert "Traceback" not in done.stderr
    lines = error_lines(done.stderr)
    assert len(lines) == 1 and all(word in lines[0] for word in words), done.stderr


def test_on_failure_stop_ends_the_run_in_one_line(tmp_path):
    scenario = tmp_path / "strict.yaml"
    text = (WORLDS / "the_ville_3.yaml").read_text()
    scenario.write_text(text.replace("\ngeneration:\n", "\ngeneration:\n  on_failure: stop\n  retries: 0\n"))
    db = tmp_path / "strict.db"
    with FakeOpenAIServer(faults=[500] * 1000) as server:
        done = cli("run", str(scenario), "--llm", "openai", "--model", "tiny", "--base-url", server.url,
                   "--db", str(db), "--until", "+1h", "--no-progress")
    assert_stopped_in_one_line(done, "stopped", "HTTP 500", str(db))
    with EventStore(db, read_only=True) as store:
        run = store.run()
        assert run["status"] == "failed" and "HTTP 500" in run["error"]


def test_a_read_only_replay_that_misses_ends_in_one_line(tmp_path):
    db = tmp_path / "r.db"
    scenario = str(WORLDS / "the_ville_3.yaml")
    assert cli("run", scenario, "--llm", "fake", "--db", str(db), "--until", "+1h", "--no-progress").returncode == 0
    done = cli("run", scenario, "--llm", "fake", "--db", str(db), "--until", "+1h", "--no-progress",
               "--llm-cache", "read-only", "--seed", "99")
    assert_stopped_in_one_line(done, "read-only replay", "no cached answer")


# ----- acceptance: a flaky server, a crash, a resume (issue 13) -----

FAULTS = [500, ("sleep", 1.5), "garbage", "empty"]  # 1.5 s: past the per-attempt timeout below


@pytest.mark.slow
def test_a_run_against_a_flaky_server_survives_faults_and_a_crash(tmp_path):
    scenario = tmp_path / "flaky.yaml"
    scenario.write_text((WORLDS / "the_ville_3.yaml").read_text().replace(
        "\ngeneration:\n", "\ngeneration:\n  timeout_s: 0.5\n  retries: 3\n"))
    db = tmp_path / "flaky.db"

    def slowly(body):  # slow enough that the run can be killed midway
        time.sleep(0.1)
        return "hello world"

    with FakeOpenAIServer(text=slowly, random_faults=(0.2, FAULTS, 1)) as server:
        flags = ["--llm", "openai", "--model", "tiny", "--base-url", server.url, "--db", str(db), "--no-progress"]
        proc = subprocess.Popen([sys.executable, "-m", "agentville.sim.cli", "run", str(scenario), "--until", "+4h",
                                 *flags], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        kill_after_events(proc, db, 60)
        resumed = cli("resume", str(db), *flags[:6], "--no-progress")
        assert resumed.returncode == 0, resumed.stderr
        assert {fault if isinstance(fault, (int, str)) else fault[0] for fault in server.faulted} >= \
            {500, "sleep", "garbage", "empty"}
    with EventStore(db, read_only=True) as store:
        run = store.run()
        assert run["status"] == "finished"
        calls = [e for e in store.iter_events(run["run_id"], kinds=["llm_call"])]
        faults = [reason for e in calls for reason in (e.wall or {}).get("faults", [])]
        assert any("within 0.5s" in reason for reason in faults)  # hung requests were retried...
        assert any("within 0.5s" in reason for e in calls if not e.data["fallback"]
                   for reason in (e.wall or {}).get("faults", []))  # ...and answered
        assert any("HTTP 500" in r for r in faults) and any("unreadable" in r for r in faults)
        assert any("empty answer" in r for r in faults)
        resumed_log = rows(store, run["run_id"])
    stats = cli("stats", str(db))
    assert stats.returncode == 0 and "Faults:" in stats.stdout and "HTTP 500" in stats.stdout
    assert "timed out" in stats.stdout
    replay = cli("run", str(scenario), "--until", "+4h", "--llm", "openai", "--model", "tiny", "--db", str(db),
                 "--llm-cache", "read-only", "--no-progress")  # the same answers, no server, no crash
    assert replay.returncode == 0, replay.stderr
    with EventStore(db, read_only=True) as store:
        replayed = rows(store, store.run()["run_id"])
    strip = lambda log: [e[1:] for e in log if e[2] != "run_started"]
    assert strip(resumed_log) == strip(replayed)


# ----- several runs on one store (item 2) -----

class SlowBackend(FakeBackend):
    """The fake's answers, each after ``delay`` seconds of wall time (a slow model)."""

    def __init__(self, delay: float):
        super().__init__()
        self.delay = delay

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        future: concurrent.futures.Future[Completion] = concurrent.futures.Future()
        answer = self.answer(request)
        timer = threading.Timer(self.delay, future.set_result, args=(answer,))
        timer.daemon = True
        timer.start()
        return future


def test_no_write_transaction_stays_open_while_a_run_waits_for_its_model(tmp_path):
    db = tmp_path / "shared.db"
    EventStore(db).close()
    held: list[float] = []
    done = threading.Event()

    def another_writer() -> None:  # takes the write lock now and then, waiting at most 0.2 s for it
        while not done.is_set():
            other = sqlite3.connect(db, timeout=0.2)
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            except sqlite3.OperationalError:
                held.append(time.monotonic())
            finally:
                other.close()
            time.sleep(0.02)

    watcher = threading.Thread(target=another_writer, daemon=True)
    watcher.start()
    try:
        with open_run(SCENARIO, db=db, backend=SlowBackend(0.3), scheduling="in-order") as sim:
            summary = sim.run(sim.scenario.start + dt.timedelta(minutes=40))
    finally:
        done.set()
        watcher.join(5)
    assert summary.llm_calls > 5 and summary.llm_blocked_s > 1.0  # it did wait for answers...
    assert held == []  # ...and never with the store locked


@pytest.mark.slow
def test_two_runs_share_a_store_next_to_a_slow_model(tmp_path):
    db = tmp_path / "two.db"

    def slowly(body):
        time.sleep(1.0)
        return "hello world"

    with FakeOpenAIServer(text=slowly) as server:
        slow = subprocess.Popen([sys.executable, "-m", "agentville.sim.cli", "run", str(SCENARIO), "--llm", "openai",
                                 "--model", "tiny", "--base-url", server.url, "--db", str(db), "--until", "+30m",
                                 "--no-progress"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for_events(db, 5)
        fast = cli("run", str(WORLDS / "smallville.yaml"), "--llm", "fake", "--db", str(db), "--until", "+6h",
                   "--no-progress")
        slow_out, slow_err = slow.communicate(timeout=300)
    assert fast.returncode == 0, fast.stderr
    assert slow.returncode == 0, slow_err
    with EventStore(db, read_only=True) as store:
        assert sorted(run["status"] for run in store.runs()) == ["finished", "finished"]


# ----- the CLI boundary: every expected failure is one line and a documented exit code -----

def bad_inputs(folder: Path) -> list[tuple[str, list[str]]]:
    """(what, argv) pairs that must each end in one line on stderr and exit code 2."""
    junk = folder / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 4)
    foreign = folder / "foreign.db"
    with sqlite3.connect(foreign) as other:
        other.execute("CREATE TABLE IF NOT EXISTS notes (text TEXT)")
    text = folder / "notes.txt"
    text.write_text("hello\n")
    store = folder / "store.db"
    if not store.exists():
        assert main(["run", str(SCENARIO), "--llm", "fake", "--db", str(store), "--until", "+1h",
                     "--no-progress"]) == 0
    bad_yaml = folder / "bad.yaml"
    bad_yaml.write_text("interventions: [\n")
    missing = str(folder / "missing.yaml")
    dead = f"http://127.0.0.1:{free_port()}"
    scenario = str(SCENARIO)
    return [
        ("run: no such file", ["run", missing]),
        ("run: a folder", ["run", str(folder)]),
        ("run: a binary file", ["run", str(junk)]),
        ("run: bad --until", ["run", scenario, "--llm", "fake", "--until", "soon"]),
        ("run: bad --seed", ["run", scenario, "--llm", "fake", "--seed", "-1"]),
        ("run: unknown --llm", ["run", scenario, "--llm", "gpt9"]),
        ("run: unknown flag", ["run", scenario, "--fast"]),
        ("run: --db not a store", ["run", scenario, "--llm", "fake", "--db", str(foreign)]),
        ("run: --db a text file", ["run", scenario, "--llm", "fake", "--db", str(text)]),
        ("run: --db under a file", ["run", scenario, "--llm", "fake", "--db", str(text / "x.db")]),
        ("run: openai without a server", ["run", scenario, "--llm", "openai", "--model", "tiny"]),
        ("run: openai server down", ["run", scenario, "--llm", "openai", "--model", "tiny", "--base-url", dead]),
        ("run: no such model", ["run", scenario, "--llm", "transformers", "--model", str(folder / "nope")]),
        ("run: replay without a store", ["run", scenario, "--llm", "fake", "--llm-cache", "read-only",
                                         "--db", str(folder / "none.db")]),
        ("resume: no such store", ["resume", str(folder / "none.db")]),
        ("resume: not a store", ["resume", str(foreign)]),
        ("resume: a finished run", ["resume", str(store)]),
        ("resume: unknown run", ["resume", str(store), "--run", "nope"]),
        ("fork: bad --at", ["fork", str(store), "--at", "later"]),
        ("fork: --at past the end", ["fork", str(store), "--at", "+5h"]),
        ("fork: bad changes", ["fork", str(store), "--at", "+30m", "--scenario", str(bad_yaml)]),
        ("events: no such store", ["events", str(folder / "none.db")]),
        ("events: not SQLite", ["events", str(text)]),
        ("events: unknown kind", ["events", str(store), "--kind", "actoin"]),
        ("events: unknown agent", ["events", str(store), "--agent", "Nobody"]),
        ("events: export into no folder", ["events", str(store), "--csv", str(folder / "no" / "x.csv")]),
        ("stats: not a store", ["stats", str(foreign)]),
        ("stats: unknown run", ["stats", str(store), "--run", "nope"]),
        ("runs: a binary file", ["runs", str(junk)]),
        ("validate: no such file", ["validate", missing]),
        ("validate: bad YAML", ["validate", str(bad_yaml)]),
        ("sweep: no such file", ["sweep", missing]),
        ("sweep: a binary file", ["sweep", str(junk)]),
        ("unknown command", ["rnu", scenario]),
    ]


def test_every_command_turns_bad_input_into_one_line(tmp_path, capsys):
    failures = []
    for what, argv in bad_inputs(tmp_path):
        capsys.readouterr()
        try:
            code = main(argv)
        except SystemExit as exit_:
            code = exit_.code
        except Exception as exc:  # a traceback for the user
            failures.append(f"{what}: {type(exc).__name__}: {exc}")
            continue
        err = capsys.readouterr().err
        lines = [line for line in err.splitlines() if line.strip()]
        if code != 2 or len(lines) != 1:
            failures.append(f"{what}: exit {code}, {len(lines)} lines: {err!r}")
    assert failures == [], "\n".join(failures)


def test_a_bad_fork_time_is_named_as_the_flag_it_came_from(tmp_path, capsys):
    bad_inputs(tmp_path)  # builds the store
    assert main(["fork", str(tmp_path / "store.db"), "--at", "later"]) == 2
    assert capsys.readouterr().err.startswith("agentville: error: --at: cannot read 'later'")


def test_a_resume_that_ends_before_re_living_every_stored_row_is_refused(tmp_path):
    from agentville.sim.store.writer import Diverged, StoredPrefix

    db = tmp_path / "short.db"
    run_id = crash_midway(db, FakeBackend(), 1, 2)
    with EventStore(db) as store:
        stored = store.last_seq(run_id)
        writer = store.writer(run_id, skip_through=stored, relive=StoredPrefix(store, run_id, through=stored))
        with pytest.raises(Diverged, match=f"ended after 3 of its {stored} events"):
            writer.check_complete(3)
