"""The event store: append-only log, batching, readers during writes, pandas export."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pandas as pd
import pytest

from agentville.sim.store import EventStore

START = dt.datetime(2023, 2, 13, 7, 0)


def fill(store: EventStore, n: int = 10, batch: int = 4) -> str:
    run_id = store.start_run(scenario="t", seed=1, sim_start=START)
    writer = store.writer(run_id, batch=batch, max_delay_s=3600)
    for i in range(1, n + 1):
        writer.append(i, i * 60.0, "move" if i % 2 else "action", "Ann" if i % 3 else "Bob", {"i": i},
                      {"latency_s": 0.1} if i == 1 else None)
    writer.flush()
    return run_id


def test_schema_wal_and_indexes(tmp_path):
    store = EventStore(tmp_path / "s.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"runs", "events", "llm_cache"} <= tables
    run_id = fill(store)
    plan = " ".join(str(r) for r in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE run_id=? AND agent=? ORDER BY sim_time", (run_id, "Ann")))
    assert "events_by_agent" in plan
    plan = " ".join(str(r) for r in store.db.execute(
        "EXPLAIN QUERY PLAN SELECT * FROM events WHERE run_id=? AND kind=? ORDER BY sim_time", (run_id, "move")))
    assert "events_by_kind" in plan


def test_batches_are_committed_and_visible_to_other_readers(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = store.start_run(scenario="t", seed=1, sim_start=START)
    writer = store.writer(run_id, batch=3, max_delay_s=3600)
    reader = EventStore(tmp_path / "s.db", read_only=True)
    writer.append(1, 0.0, "a", None, {})
    writer.append(2, 0.0, "a", None, {})
    assert reader.count_events(run_id) == 0  # still buffered
    writer.append(3, 0.0, "a", None, {})
    assert reader.count_events(run_id) == 3  # one transaction of three
    with pytest.raises(sqlite3.OperationalError):
        reader.db.execute("DELETE FROM events")  # readers cannot change the log


def test_log_is_append_only_per_sequence(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store, n=2)
    writer = store.writer(run_id, batch=1, max_delay_s=0)
    with pytest.raises(sqlite3.IntegrityError):
        writer.append(1, 0.0, "again", None, {})


def test_filters_and_dataframe(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store)
    assert [e.seq for e in store.iter_events(run_id, kinds=["move"], agent="Ann")] == [1, 5, 7]
    assert [e.seq for e in store.iter_events(run_id, since=180, until=300)] == [3, 4, 5]
    frame = store.events(run_id)
    assert list(frame.columns) == ["run_id", "seq", "time", "sim_time", "kind", "agent", "data", "wall"]
    assert frame["time"].iloc[0] == pd.Timestamp(START) + pd.Timedelta(minutes=1)
    assert frame["data"].iloc[2] == {"i": 3} and frame["wall"].iloc[0] == {"latency_s": 0.1}
    assert store.events(run_id[:12], kinds=["action"]).shape[0] == 5  # a unique prefix will do


def test_run_status_lifecycle(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store)
    assert store.run(run_id)["status"] == "running"
    store.end_run(run_id, "finished", sim_reached=600.0)
    row = store.run()
    assert row["status"] == "finished" and row["sim_reached"] == 600.0 and row["ended_at"]
    with pytest.raises(LookupError):
        store.run("nope")
