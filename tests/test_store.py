"""The event store: append-only log, batching, readers during writes, pandas export."""

from __future__ import annotations

import datetime as dt
import sqlite3

import numpy as np
import pandas as pd
import pytest

from agentville.sim.core import events
from agentville.sim.generation import Completion, LLMCache, TextRequest, request_key
from agentville.sim.generation import cache as cache_module
from agentville.sim.store import eventstore as store_module
from agentville.sim.store.eventstore import SCHEMA, EventStore

START = dt.datetime(2023, 2, 13, 7, 0)


def fill(store: EventStore, n: int = 10, batch: int = 4) -> str:
    run_id = store.start_run(scenario="t", seed=1, sim_start=START)
    writer = store.writer(run_id, batch=batch, max_delay_s=3600)
    for i in range(1, n + 1):
        writer.append(i, i * 60.0, "move" if i % 2 else "action", "Ann" if i % 3 else "Bob", {"i": i},
                      {"latency_s": 0.1} if i == 1 else None)
    writer.flush()
    return run_id


def tables(store: EventStore) -> set[str]:
    return {r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def test_schema_wal_and_indexes(tmp_path):
    store = EventStore(tmp_path / "s.db")
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert tables(store) == {"runs", "events"}  # the answer cache creates its own tables
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
    assert store.run(run_id)["status"] == events.RUNNING
    store.end_run(run_id, events.FINISHED, sim_reached=600.0)
    row = store.run()
    assert row["status"] == events.FINISHED and row["sim_reached"] == 600.0 and row["ended_at"]
    with pytest.raises(LookupError):
        store.run("nope")


def test_status_names_are_the_schemas():
    for name in ("RUNNING", "FINISHED", "FAILED", "INTERRUPTED", "CRASHED"):
        assert getattr(store_module, name) is getattr(events, name)


def test_a_running_run_whose_process_is_gone_reads_crashed(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store, n=1)
    with store.db:
        store.db.execute("UPDATE runs SET pid=? WHERE run_id=?", (2**22 + 12345, run_id))  # no such process
    assert store.run(run_id)["status"] == events.CRASHED


def test_event_rows_are_the_log_decoded_in_order(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store)
    rows = store.event_rows(run_id)
    assert rows == [(e.seq, e.sim_time, e.kind, e.agent, e.data, e.wall) for e in store.iter_events(run_id)]
    assert rows[0] == (1, 60.0, "move", "Ann", {"i": 1}, {"latency_s": 0.1}) and rows[1][5] is None
    assert store.event_rows("no-such-run") == []


def test_run_signature_changes_with_what_there_is_to_show(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store, n=3)
    reader = EventStore(tmp_path / "s.db", read_only=True)
    assert reader.run_signature() == reader.run_signature(run_id[:10]) == (run_id, 3, 0.0, events.RUNNING)
    store.mark_progress(run_id, 900.0)
    store.end_run(run_id, events.FINISHED, sim_reached=1200.0)
    assert reader.run_signature(run_id) == (run_id, 3, 1200.0, events.FINISHED)


def test_the_store_schema_holds_no_cache_tables():
    for table in cache_module.TABLES:
        assert table not in SCHEMA
    assert "llm_cache" in cache_module.SCHEMA and "embedding_cache" in cache_module.SCHEMA


def test_a_read_only_store_reads_the_cache_and_creates_nothing(tmp_path):
    request = TextRequest("Where is the cafe?", seed=5, purpose="ask")
    with EventStore(tmp_path / "s.db") as store:
        cache = LLMCache(store.db)
        assert tables(store) == {"runs", "events", *cache_module.TABLES}  # made by the cache, on a writable store
        cache.put("m", request, Completion("on the square", 4, 3))
        cache.put_vectors("e", ["the cafe"], np.array([[3.0, 4.0]], dtype=np.float32))
    before = (tmp_path / "s.db").read_bytes()
    with EventStore(tmp_path / "s.db", read_only=True) as reader:
        lookup = LLMCache.reader(reader.db)
        assert lookup.get("m", request) == Completion("on the square", 4, 3)
        assert lookup.get_vectors("e", ["the cafe", "elsewhere"])["the cafe"].tolist() == [3.0, 4.0]
        assert not lookup.writable
        lookup.put("m", TextRequest("another", purpose="ask"), Completion("x"))  # ignored, not an error
    assert (tmp_path / "s.db").read_bytes() == before


def test_a_read_only_store_without_cache_tables_has_an_empty_cache(tmp_path):
    EventStore(tmp_path / "s.db").close()  # runs and events only (as a run with the cache off leaves it)
    with EventStore(tmp_path / "s.db", read_only=True) as reader:
        lookup = LLMCache.reader(reader.db)  # would raise 'attempt to write a readonly database' if it tried
        assert lookup.get_vectors("e", ["the cafe"]) == {}
        assert tables(reader) == {"runs", "events"}


OLD_SCHEMA_CACHE = """
CREATE TABLE llm_cache (key TEXT PRIMARY KEY, model TEXT NOT NULL, request TEXT NOT NULL, response TEXT NOT NULL,
                        created_at TEXT NOT NULL);
CREATE TABLE embedding_cache (key TEXT PRIMARY KEY, model TEXT NOT NULL, vector BLOB NOT NULL);
"""


def test_an_old_store_with_the_cache_tables_still_opens_and_keeps_its_answers(tmp_path):
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(SCHEMA + OLD_SCHEMA_CACHE)  # what the store created when it owned the cache tables
    request = TextRequest("Where is the cafe?", seed=5, purpose="ask")
    with old:
        old.execute("INSERT INTO llm_cache VALUES (?,?,?,?,?)",
                    (request_key("m", request), "m", "{}", '{"text": "on the square", "fallback": false}', "then"))
    old.close()
    with EventStore(path) as store:
        assert LLMCache(store.db).get("m", request).text == "on the square"
    with EventStore(path, read_only=True) as reader:
        assert LLMCache.reader(reader.db).get("m", request).text == "on the square"


@pytest.mark.parametrize("name", ["run#1.db", "what?.db", "100%.db", "a b#c?d.db"])
def test_paths_with_uri_characters_open_read_only(tmp_path, name):
    """'#' and '?' used to cut the read-only URI short: a stray empty file was created and opened read-write."""
    folder = tmp_path / "odd#dir?x"
    path = folder / name
    with EventStore(path) as store:
        run_id = store.start_run(scenario="s", seed=1, sim_start=dt.datetime(2023, 2, 13))
        writer = store.writer(run_id)
        writer.append(1, 0.0, events.PLACED, "Ann", {"location": "Cafe: hall"})
        writer.flush()
    with EventStore(path, read_only=True) as reader:
        assert reader.count_events(run_id) == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            reader.db.execute("DELETE FROM events")
    assert {p.name.removesuffix("-wal").removesuffix("-shm") for p in folder.iterdir()} == {name}  # no stray file
    assert [p.name for p in tmp_path.iterdir()] == ["odd#dir?x"]


def _foreign(path):
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE contacts (name TEXT)")
        db.execute("INSERT INTO contacts VALUES ('Ann')")
    return path.read_bytes()


def test_another_programs_sqlite_file_is_refused_and_left_as_it_was(tmp_path):
    path = tmp_path / "contacts.db"
    before = _foreign(path)
    with pytest.raises(store_module.NotAStore, match="another program's SQLite file"):
        EventStore(path)
    assert path.read_bytes() == before and not (tmp_path / "contacts.db-wal").exists()
    text = tmp_path / "notes.db"
    text.write_text("not a database at all\n" * 100)
    with pytest.raises(store_module.NotAStore, match="not an SQLite file"):
        EventStore(text)
    assert text.read_text() == "not a database at all\n" * 100


@pytest.mark.parametrize("column, stored, said", [
    ("data", "[1, 2]", "its data is a JSON list, not an object"),
    ("data", '"text"', "its data is a JSON str, not an object"),
    ("data", "{not json", "its payload is not JSON"),
    ("wall", "7", "its wall is a JSON int, not an object"),
    ("wall", "{", "its payload is not JSON"),
])
def test_a_payload_changed_by_hand_is_one_line_naming_the_event(tmp_path, column, stored, said):
    """Such a row once surfaced as an AttributeError in whichever reader met it first (export, events, views)."""
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store)
    store.db.execute(f"UPDATE events SET {column}=? WHERE run_id=? AND seq=7", (stored, run_id))
    store.db.commit()
    expected = f"{tmp_path / 's.db'}: run {run_id}, event 7 (move): {said}"
    for read in (lambda: store.event_rows(run_id), lambda: list(store.iter_events(run_id)),
                 lambda: store.events(run_id)):
        with pytest.raises(store_module.UserError) as caught:
            read()
        assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)
    assert len(store.event_rows(run_id, kinds=["action"])) == 5  # the other events still read


def test_a_runs_settings_changed_by_hand_is_one_line_naming_the_run(tmp_path):
    store = EventStore(tmp_path / "s.db")
    run_id = fill(store)
    store.db.execute("UPDATE runs SET settings='{oops' WHERE run_id=?", (run_id,))
    store.db.commit()
    with pytest.raises(store_module.UserError, match=f"run {run_id}: its settings are not a JSON object"):
        store.runs()
