"""A store survives its copy, and a damaged write-ahead log is said, not papered over (issue 26, item 8).

A live store kept every commit in its ``-wal`` until 64 MB piled up: a copy of
the ``.db`` alone was an empty store, and a missing or damaged log made a
reader show an older state (a read-only open even created an empty log) and a
writer overwrite what was left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from agentville.sim.runtime.runner import open_run
from agentville.sim.store import checkpoints
from agentville.sim.store.eventstore import DamagedLog, EventStore
from tests.conftest import ROOT, WORLDS

SCENARIO = WORLDS / "the_ville_3.yaml"
START = dt.datetime(2023, 2, 13, 7, 0)

CRASH = """
import datetime as dt, os, sys
from agentville.sim.store import checkpoints
checkpoints.EVERY_S = 3600  # only the checkpoints at the store's and the run's start: the rest stays in the log
from agentville.sim.runtime.runner import open_run
with open_run(sys.argv[1], db=sys.argv[2], llm="fake") as sim:
    sim.start(sim.scenario.start + dt.timedelta(hours=8))
    sim.advance(sim.scenario.start + dt.timedelta(hours=float(sys.argv[3])))
    print(sim.log.seq)
    os._exit(0)  # a crash: nothing closed, nothing checkpointed since
"""


def agentville(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", *args], capture_output=True, text=True, cwd=ROOT)


def rows(store: EventStore) -> list[tuple]:
    return [(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(store.run()["run_id"])]


def fingerprint(folder: Path) -> dict[str, str]:
    """Every file in the folder by name, with the hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def copy_alone(db: Path, folder: Path) -> Path:
    """A copy of the main file only, as a backup or sync tool would take it."""
    folder.mkdir(exist_ok=True)
    return Path(shutil.copyfile(db, folder / db.name))


@pytest.fixture(scope="module")
def crashed(tmp_path_factory) -> tuple[Path, int]:
    """A store whose writer died 3 simulated hours in: its rows are in the log, not yet in the main file."""
    db = tmp_path_factory.mktemp("crashed") / "town.db"
    done = subprocess.run([sys.executable, "-c", CRASH, str(SCENARIO), str(db), "3"], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    assert db.with_name("town.db-wal").stat().st_size > 100_000 and db.stat().st_size < 100_000
    return db, int(done.stdout)


@pytest.fixture
def crash(crashed, tmp_path) -> tuple[Path, int]:
    """This test's copy of the crashed store (the .db with its -wal and -shm: the way to copy a live store)."""
    db, events = crashed
    for name in (db.name, db.name + "-wal", db.name + "-shm"):
        shutil.copyfile(db.with_name(name), tmp_path / name)
    return tmp_path / db.name, events


# -- what a copy of the .db alone holds -------------------------------------------------------------------------
@pytest.mark.parametrize("hours", [(1,), (1, 3), (2, 4, 6)])
def test_a_copy_of_the_db_alone_taken_mid_run_holds_every_checkpointed_row(tmp_path, monkeypatch, hours):
    monkeypatch.setattr(checkpoints, "EVERY_S", 0.0)  # a checkpoint after every commit
    with open_run(SCENARIO, db=tmp_path / "live.db", llm="fake") as sim:
        sim.start(sim.scenario.start + dt.timedelta(hours=8))
        for i, hour in enumerate(hours):
            sim.advance(sim.scenario.start + dt.timedelta(hours=hour))
            copy = copy_alone(tmp_path / "live.db", tmp_path / f"copy{i}")
            with EventStore(copy, read_only=True) as store:
                held = rows(store)
                assert store.run()["status"] == "running"
            with EventStore(tmp_path / "live.db", read_only=True) as live:
                assert held == rows(live) and len(held) > 20 * hour
        sim.finish()


def test_a_copy_of_the_db_alone_is_a_prefix_of_the_log_that_keeps_up(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "EVERY_S", 0.05)
    with EventStore(tmp_path / "s.db") as store:
        run_id = store.start_run(scenario="t", seed=1, sim_start=START)
        writer = store.writer(run_id, batch=1, max_delay_s=3600)
        held = []
        for seq in range(1, 41):
            writer.append(seq, float(seq), "note", "Ann", {"i": seq})
            threading.Event().wait(0.01)
            with EventStore(copy_alone(tmp_path / "s.db", tmp_path / f"copy{seq}"), read_only=True) as copy:
                held.append(copy.count_events(run_id))
                assert rows(copy) == rows(store)[:held[-1]]  # a prefix of the log, never anything else
        assert held == sorted(held) and 0 < held[-1] <= 40 and len(set(held)) > 3  # it keeps up as the run goes


@pytest.mark.parametrize("reader_open", [False, True])
@pytest.mark.parametrize("close", [False, True])
def test_a_copy_of_the_db_alone_after_the_run_ended_holds_it_all(tmp_path, reader_open, close):
    """The old store kept the run in the log when a reader (the dashboard) had it open as the writer closed."""
    db = tmp_path / "ended.db"
    reader = None
    with open_run(SCENARIO, db=db, llm="fake") as sim:
        if reader_open:
            reader = EventStore(db, read_only=True)
            reader.runs()
        sim.run(sim.scenario.start + dt.timedelta(hours=3))
        if not close:  # a store that goes on to other runs (a lab, a sweep): the run's end checkpoints it
            copy = copy_alone(db, tmp_path / "copy")
    if close:
        copy = copy_alone(db, tmp_path / "copy")
    with EventStore(copy, read_only=True) as held, EventStore(db, read_only=True) as live:
        assert held.run()["status"] == "finished" and rows(held) == rows(live) and len(rows(held)) > 100
    if reader is not None:
        reader.close()


def test_a_crashed_runs_db_alone_holds_its_start(crash, tmp_path):
    db, _ = crash
    with EventStore(copy_alone(db, tmp_path / "copy"), read_only=True) as store:
        assert store.run()["status"] == "crashed"  # the run is there; its rows were still in the log


# -- a damaged or missing log ----------------------------------------------------------------------------------
def _delete(log: Path) -> None:
    log.unlink()


def _cut(size: Callable[[int], int]) -> Callable[[Path], None]:
    def cut(log: Path) -> None:
        with log.open("r+b") as file:
            file.truncate(size(log.stat().st_size))
    return cut


def _overwrite(where: Callable[[int], tuple[int, int]]) -> Callable[[Path], None]:
    def overwrite(log: Path) -> None:
        offset, length = where(log.stat().st_size)
        with log.open("r+b") as file:
            file.seek(offset)
            file.write(os.urandom(length))
    return overwrite


DAMAGE = {"deleted": (Path.unlink, "is missing"),
          "truncated to 0": (_cut(lambda n: 0), "is cut short: 0 bytes"),
          "truncated in its header": (_cut(lambda n: 10), "is cut short: 10 bytes"),
          "truncated mid-frame": (_cut(lambda n: n // 2 + 7), "is cut short"),
          "one byte short": (_cut(lambda n: n - 1), "is cut short"),
          "garbage header": (_overwrite(lambda n: (0, 32)), "was overwritten"),
          "garbage salts": (_overwrite(lambda n: (16, 8)), "was overwritten"),
          "all garbage": (_overwrite(lambda n: (0, n)), "was overwritten"),
          "garbage last page": (_overwrite(lambda n: (n - 3000, 3000)), "was overwritten")}


def damage(db: Path, how: str) -> dict[str, str]:
    DAMAGE[how][0](db.with_name(db.name + "-wal"))
    return fingerprint(db.parent)


@pytest.mark.parametrize("how", DAMAGE)
def test_a_reader_says_the_log_is_damaged_and_changes_nothing(crash, how):
    db, _ = crash
    before = damage(db, how)
    with pytest.raises(DamagedLog) as caught:
        EventStore(db, read_only=True)
    said = str(caught.value)
    assert len(said.splitlines()) == 1 and said.startswith(f"{db}: its write-ahead log town.db-wal {DAMAGE[how][1]}")
    assert "KiB of commits" in said and "copy town.db together with its -wal and -shm" in said
    assert fingerprint(db.parent) == before  # no file created, rewritten or removed, the -shm included


@pytest.mark.parametrize("how", DAMAGE)
def test_a_writer_refuses_a_damaged_log_and_changes_nothing(crash, how):
    db, _ = crash
    before = damage(db, how)
    with pytest.raises(DamagedLog, match="write-ahead log"):
        EventStore(db)
    assert fingerprint(db.parent) == before


@pytest.mark.parametrize(("how", "command"), [("deleted", ["events"]), ("truncated mid-frame", ["runs"]),
                                               ("all garbage", ["stats"]), ("deleted", ["resume"]),
                                               ("garbage last page", ["fork", "--at", "+1h"])])
def test_the_commands_say_it_in_one_line_and_change_nothing(crash, how, command):
    db, _ = crash
    before = damage(db, how)
    result = agentville(command[0], str(db), *command[1:])
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "town.db-wal" in result.stderr, result.stderr
    assert fingerprint(db.parent) == before


def test_a_log_deleted_under_a_live_writer_is_said_and_the_writer_still_keeps_every_row(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "EVERY_S", 3600.0)
    db = tmp_path / "live.db"
    store = EventStore(db)
    run_id = store.start_run(scenario="t", seed=1, sim_start=START)
    writer = store.writer(run_id, batch=50, max_delay_s=3600)
    for seq in range(1, 301):
        writer.append(seq, float(seq), "note", "Ann", {"text": "x" * 1000})
    db.with_name("live.db-wal").unlink()
    before = fingerprint(tmp_path)
    for read_only in (True, False):
        with pytest.raises(DamagedLog, match="live.db-wal is missing"):
            EventStore(db, read_only=read_only)
    assert fingerprint(tmp_path) == before  # no empty log put in its place
    writer.flush()
    store.end_run(run_id, "finished", sim_reached=300.0)
    store.close()  # its checkpoints copy from the log it still has open
    with EventStore(db, read_only=True) as reader:
        assert reader.count_events(run_id) == 300 and reader.run()["status"] == "finished"


@pytest.mark.parametrize("shell", ["empty file", "header only", "copy of an old live store"])
def test_a_main_file_without_tables_is_said_in_one_line(tmp_path, shell):
    db = tmp_path / "shell.db"
    if shell == "empty file":
        db.touch()
    elif shell == "header only":
        import sqlite3

        sqlite3.connect(db).execute("PRAGMA journal_mode=WAL").fetchall()
    else:  # what the old writer left in the main file mid-run: its rows all in the log
        code = (f"import sqlite3, os; db = sqlite3.connect({str(tmp_path / 'old.db')!r}); "
                "db.execute('PRAGMA journal_mode=WAL'); db.execute('PRAGMA wal_autocheckpoint=16000'); "
                "db.execute('CREATE TABLE runs (run_id TEXT)'); db.execute('CREATE TABLE events (seq INT)'); "
                "db.commit(); os._exit(0)")
        subprocess.run([sys.executable, "-c", code], check=True)
        shutil.copyfile(tmp_path / "old.db", db)
    before = fingerprint(tmp_path)
    with pytest.raises(DamagedLog, match="holds no tables") as caught:
        EventStore(db, read_only=True)
    assert len(str(caught.value).splitlines()) == 1 and "copy the .db together with its -wal and -shm" in str(caught.value)
    assert fingerprint(tmp_path) == before


# -- sound stores open as before ------------------------------------------------------------------------------
def test_a_crashed_store_with_its_whole_log_opens_and_resumes(crash):
    db, events = crash
    with EventStore(db, read_only=True) as store:
        assert [row[0] for row in rows(store)] == list(range(1, events + 1))
        run_id = store.run()["run_id"]
    with open_run(SCENARIO, db=db, llm="fake") as sim:
        summary = sim.run(sim.scenario.start + dt.timedelta(hours=8), resume=run_id)
    assert summary.status == "finished" and summary.events > events


@pytest.mark.parametrize("after", ["log deleted", "log and index deleted", "log garbage", "index garbage"])
def test_a_store_closed_cleanly_needs_no_log(tmp_path, after):
    """Once everything is in the main file, losing the log loses nothing, so nothing is said."""
    db = tmp_path / "done.db"
    with open_run(SCENARIO, db=db, llm="fake") as sim:
        reader = EventStore(db, read_only=True)  # held open: the -wal and -shm stay after the writer closes
        reader.runs()
        sim.run(sim.scenario.start + dt.timedelta(hours=2))
    reader.close()
    with EventStore(db, read_only=True) as store:
        expected = rows(store)
    log, index = db.with_name("done.db-wal"), db.with_name("done.db-shm")
    if after == "log garbage":
        log.write_bytes(os.urandom(5000))
    elif after == "index garbage":
        index.write_bytes(os.urandom(32768))
    else:
        log.unlink(missing_ok=True)
        if after == "log and index deleted":
            index.unlink(missing_ok=True)
    for read_only in (True, False):
        with EventStore(db, read_only=read_only) as store:
            assert rows(store) == expected


def test_readers_opening_while_the_writer_checkpoints_never_see_damage(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoints, "EVERY_S", 0.0)
    db = tmp_path / "busy.db"
    store = EventStore(db)
    run_id = store.start_run(scenario="t", seed=1, sim_start=START)
    counts: list[int] = []
    errors: list[Exception] = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                with EventStore(db, read_only=True) as reader:
                    counts.append(reader.count_events(run_id))
            except Exception as exc:  # noqa: BLE001 - what a reader met is the test's finding
                errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    try:
        writer = store.writer(run_id, batch=20, max_delay_s=3600)
        for seq in range(1, 4001):
            writer.append(seq, float(seq), "note", "Ann", {"text": "x" * 500})
        writer.flush()
    finally:
        done.set()
        thread.join()
        store.close()
    assert errors == [] and counts == sorted(counts) and len(counts) > 10
