"""The event store: one SQLite file holding runs and their event logs.

The log is the source of truth (docs/ARCHITECTURE.md, invariant 1): the dashboard, replay
and analysis read it and never need the live process. Events are appended in
batched transactions; WAL mode lets readers watch a run while it is written,
and anything committed survives a crash of the writer.

Event rows are ``(run_id, seq, sim_time, kind, agent, data, wall)``. ``data`` is
deterministic (same scenario, seed and model answers give the same data);
``wall`` holds wall-clock facts (latencies, timestamps) that legitimately
differ between runs, kept apart so logs can be compared byte for byte.

The same file also holds the answer cache (``sim.generation.cache``), whose
tables are defined and created by the cache itself, not here.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentville.sim.core.errors import UserError
from agentville.sim.core.events import CRASHED, FAILED, FINISHED, INTERRUPTED, RUNNING
from agentville.sim.scenario.stored import text_digest

from .checkpoints import Checkpoints
from .door import SealedConnection
from .opening import DamagedLog, NotAStore, check_log, refuse_foreign, refuse_shell, sqlite_uri
from .payloads import decode, decode_all, run_settings
from .writer import Diverged, EventWriter, StoredPrefix, encode

__all__ = ["CRASHED", "FAILED", "FINISHED", "INTERRUPTED", "RUNNING", "SCHEMA", "DamagedLog", "Diverged", "Event",
           "EventRow", "EventStore", "EventWriter", "NotAStore", "RunSignature", "StoredPrefix"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    scenario    TEXT NOT NULL,
    scenario_path TEXT,
    scenario_text TEXT,
    scenario_digest TEXT,
    seed        INTEGER NOT NULL,
    settings    TEXT NOT NULL DEFAULT '{}',
    sim_start   TEXT NOT NULL,
    sim_until   TEXT,
    sim_reached REAL NOT NULL DEFAULT 0,
    started_at  TEXT NOT NULL,
    ended_at    TEXT,
    status      TEXT NOT NULL,
    pid         INTEGER,
    parent_run_id TEXT,
    fork_time   REAL,
    error       TEXT
);
CREATE TABLE IF NOT EXISTS events (
    run_id   TEXT NOT NULL,
    seq      INTEGER NOT NULL,
    sim_time REAL NOT NULL,
    kind     TEXT NOT NULL,
    agent    TEXT,
    data     TEXT NOT NULL,
    wall     TEXT,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_time  ON events (run_id, sim_time);
CREATE INDEX IF NOT EXISTS events_by_agent ON events (run_id, agent, sim_time);
CREATE INDEX IF NOT EXISTS events_by_kind  ON events (run_id, kind, sim_time);
"""

EventRow = tuple[int, float, str, str | None, dict[str, Any], dict[str, Any] | None]
"""(seq, sim_time, kind, agent, data, wall) of one event, decoded (``EventStore.event_rows``)."""
RunSignature = tuple[str, int, float, str]
"""(run id, events logged, simulated seconds reached, status) (``EventStore.run_signature``)."""


@dataclass(frozen=True)
class Event:
    """One row of the log, as read back."""

    run_id: str
    seq: int
    sim_time: float
    kind: str
    agent: str | None
    data: dict[str, Any]
    wall: dict[str, Any] | None = None


ADDED_RUN_COLUMNS = {"scenario_text": "TEXT", "scenario_digest": "TEXT"}
"""Run columns newer than the first stores: added when an older store is opened writable."""


def _now() -> str:
    return dt.datetime.now().isoformat(timespec="seconds")


class EventStore:
    """A SQLite event store; safe for one writer and many readers.

    ``read_only`` opens the file with ``mode=ro`` (the dashboard): nothing is
    created or written through it (read its answer cache with ``LLMCache.reader``).
    """

    def __init__(self, path: str | Path, *, read_only: bool = False):
        self.path = Path(path)
        self.checkpoints: Checkpoints | None = None  # a writer's (sim.store.checkpoints)
        if read_only:
            if not self.path.exists():
                raise FileNotFoundError(f"no event store at {self.path}")
            check_log(self.path)  # before SQLite opens it: a read-only open creates a missing log
            refuse_shell(self.path)
            self.db = sqlite3.connect(sqlite_uri(self.path, "ro"), uri=True, check_same_thread=False)
        else:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                blocking = next(p for p in self.path.parents if p.exists())
                raise UserError(f"cannot create the event store {self.path}: {blocking} is a file, not a folder") \
                    from None
            check_log(self.path)  # a writer would go on from what the main file holds and overwrite the log
            refuse_foreign(self.path)  # before anything is created or switched to WAL in it
            self.db = sqlite3.connect(self.path, check_same_thread=False, factory=SealedConnection)  # redacts secrets
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            # The writer checkpoints every few seconds (sim.store.checkpoints); SQLite's own
            # checkpoint by size only bounds the log of a fast run (64 MB, not 4: each one syncs the file).
            self.db.execute("PRAGMA wal_autocheckpoint=16000")
            self.db.executescript(SCHEMA)
            self._add_new_columns()
        self.db.execute("PRAGMA busy_timeout=5000")
        if not read_only:
            self.checkpoints = Checkpoints(self.db)

    def _add_new_columns(self) -> None:
        """Give a store made by an older version the run columns added since (they read as NULL in old runs)."""
        have = {name for (_, name, *_rest) in self.db.execute("PRAGMA table_info(runs)")}
        with self.db:
            for name, kind in ADDED_RUN_COLUMNS.items():
                if name not in have:
                    self.db.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")

    def committed(self) -> None:
        """The writer committed rows: the main file catches up on the checkpoint cadence."""
        if self.checkpoints is not None:
            self.checkpoints.after_commit()

    def close(self) -> None:
        if self.checkpoints is not None:
            self.checkpoints.close()
        self.db.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- runs -------------------------------------------------------------
    def start_run(self, *, scenario: str, seed: int, sim_start: dt.datetime, sim_until: dt.datetime | None = None,
                  settings: dict[str, Any] | None = None, scenario_path: str | None = None,
                  scenario_text: str | None = None, parent_run_id: str | None = None,
                  fork_time: float | None = None) -> str:
        """Register a new run as 'running' and return its id.

        ``scenario_text`` is the YAML the run ran with, kept (with its digest) so the
        run can be shown, resumed and forked wherever its file went (``sim.scenario.stored``).
        """
        run_id = f"{dt.datetime.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
        digest = text_digest(scenario_text) if scenario_text is not None else None
        with self.db:
            self.db.execute(
                "INSERT INTO runs (run_id, scenario, scenario_path, scenario_text, scenario_digest, seed, settings,"
                " sim_start, sim_until, started_at, status, pid, parent_run_id, fork_time)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (run_id, scenario, scenario_path, scenario_text, digest, seed, encode(settings or {}),
                 sim_start.isoformat(),
                 sim_until.isoformat() if sim_until else None, _now(), RUNNING, os.getpid(),
                 parent_run_id, fork_time))
        if self.checkpoints is not None:  # a copy of the .db alone shows the run from its start
            self.checkpoints.now()
        return run_id

    def reopen_run(self, run_id: str) -> int:
        """Mark a stopped run as running again (this process); returns the last committed event's seq."""
        with self.db:
            self.db.execute("UPDATE runs SET status=?, pid=?, ended_at=NULL, error=NULL WHERE run_id=?",
                            (RUNNING, os.getpid(), run_id))
        return self.last_seq(run_id)

    def add_settings(self, run_id: str, found: dict[str, Any]) -> None:
        """Settings a run decides once it has started (the source of importance ratings), joined to the others."""
        with self.db:
            self.db.execute("UPDATE runs SET settings=json_patch(settings, ?) WHERE run_id=?", (encode(found), run_id))

    def end_run(self, run_id: str, status: str, *, sim_reached: float, error: str | None = None) -> None:
        with self.db:
            # MAX: a resume that stops while re-living leaves the stored log, and how far it reached, as they were
            self.db.execute("UPDATE runs SET status=?, ended_at=?, sim_reached=MAX(sim_reached, ?), error=? "
                            "WHERE run_id=?",
                            (status, _now(), sim_reached, error, run_id))
        if self.checkpoints is not None:  # a copy of the .db alone holds the whole run from now on
            self.checkpoints.now()

    def mark_progress(self, run_id: str, sim_reached: float) -> None:
        with self.db:
            self.db.execute("UPDATE runs SET sim_reached=? WHERE run_id=?", (sim_reached, run_id))

    def runs(self) -> list[dict[str, Any]]:
        """All runs, newest first; a 'running' run whose process is gone reads 'crashed'."""
        cursor = self.db.execute("SELECT * FROM runs ORDER BY rowid DESC")
        names = [c[0] for c in cursor.description]
        rows = [dict(zip(names, row)) for row in cursor]
        for row in rows:
            row["settings"] = run_settings(self.path, row["run_id"], row["settings"])
            for name in ADDED_RUN_COLUMNS:  # a store from before they were added, read-only
                row.setdefault(name, None)
            if row["status"] == RUNNING and not _process_alive(row["pid"]):
                row["status"] = CRASHED
        return rows

    def run(self, run_id: str | None = None) -> dict[str, Any]:
        """One run by id (a unique prefix will do); the newest when None."""
        runs = self.runs()
        if not runs:
            raise LookupError(f"{self.path} holds no runs")
        if run_id is None:
            return runs[0]
        matches = [r for r in runs if r["run_id"].startswith(run_id)]
        if len(matches) != 1:
            raise LookupError(f"{'no' if not matches else 'more than one'} run matches '{run_id}' in {self.path}")
        return matches[0]

    # -- events -----------------------------------------------------------
    def writer(self, run_id: str, *, batch: int = 5000, max_delay_s: float = 1.0, skip_through: int = 0,
               relive: StoredPrefix | None = None) -> EventWriter:
        return EventWriter(self, run_id, batch=batch, max_delay_s=max_delay_s, skip_through=skip_through,
                           relive=relive)

    def last_seq(self, run_id: str, *, until: float | None = None) -> int:
        """The number of the last event of a run (of those at or before simulated second ``until``); 0: none."""
        query = "SELECT COALESCE(MAX(seq), 0) FROM events WHERE run_id=?"
        args: list[Any] = [run_id]
        if until is not None:
            query += " AND sim_time<=?"
            args.append(until)
        return int(self.db.execute(query, args).fetchone()[0])

    def iter_events(self, run_id: str, *, kinds: list[str] | None = None, agent: str | None = None,
                    since: float | None = None, until: float | None = None) -> Iterator[Event]:
        """Events of a run in log order, filtered by kind, agent and sim-time range."""
        query = "SELECT run_id, seq, sim_time, kind, agent, data, wall FROM events WHERE run_id=?"
        args: list[Any] = [run_id]
        if kinds:
            query += f" AND kind IN ({','.join('?' * len(kinds))})"
            args += kinds
        if agent is not None:
            query += " AND agent=?"
            args.append(agent)
        if since is not None:
            query += " AND sim_time>=?"
            args.append(since)
        if until is not None:
            query += " AND sim_time<=?"
            args.append(until)
        for row in self.db.execute(query + " ORDER BY seq", args):
            yield Event(row[0], row[1], row[2], row[3], row[4], *decode(self.path, run_id, row[1:]))

    def event_rows(self, run_id: str, *, kinds: list[str] | None = None, agent: str | None = None, after: int = 0,
                   through: int | None = None, omit: Mapping[str, tuple[str, ...]] | None = None) -> list[EventRow]:
        """The events of a run in log order as ``(seq, sim_time, kind, agent, data, wall)`` tuples.

        The fast path for readers that load a run at once (the dashboard): one
        query, JSON decoded with orjson (``sim.store.payloads``), no per-row objects. ``kinds`` and ``agent`` read
        only those; ``after``/``through`` only seqs in (after, through] (what a live
        run logged since); ``omit`` leaves out these ``data`` fields of these kinds (prompts: most of a log's bytes).
        """
        where = ["run_id=?", "seq>?"]
        args: list[Any] = [run_id, after]
        if through is not None:
            where, args = [*where, "seq<=?"], [*args, through]
        if kinds:
            where, args = [*where, f"kind IN ({','.join('?' * len(kinds))})"], [*args, *kinds]
        if agent is not None:
            where, args = [*where, "agent=?"], [*args, agent]
        # else SQLite's planner scans the whole run by seq
        source = f"events INDEXED BY events_by_{'agent' if agent is not None else 'kind'}" if kinds else "events"
        data, fields = "data", list[str]()
        for kind, names in (omit or {}).items():
            data = f"CASE WHEN kind=? THEN json_remove(data{', ?' * len(names)}) ELSE {data} END"
            fields = [kind, *(f"$.{name}" for name in names), *fields]
        query = f"SELECT seq, sim_time, kind, agent, {data}, wall FROM {source} WHERE {' AND '.join(where)}"
        return decode_all(self.path, run_id, self.db.execute(query + " ORDER BY seq", fields + args))

    def agents(self, run_id: str) -> list[str]:
        """The agents that logged anything in a run, sorted."""
        return [agent for (agent,) in self.db.execute(
            "SELECT DISTINCT agent FROM events WHERE run_id = ? AND agent IS NOT NULL ORDER BY agent", (run_id,))]

    def count_events(self, run_id: str, *, until: float | None = None, through: int | None = None) -> int:
        """Events of a run (logged at or before simulated second ``until``, with seq up to ``through``)."""
        where = ["run_id=?"]
        args: list[Any] = [run_id]
        for condition, value in (("sim_time<=?", until), ("seq<=?", through)):
            if value is not None:
                where, args = [*where, condition], [*args, value]
        return int(self.db.execute(f"SELECT COUNT(*) FROM events WHERE {' AND '.join(where)}", args).fetchone()[0])

    def run_signature(self, run_id: str | None = None) -> RunSignature:
        """(run id, events logged, simulated seconds reached, status) of a run (the newest when None).

        It changes whenever the run has something new to show, so a reader can
        cache what it built from the log until it does.
        """
        run = self.run(run_id)
        return run["run_id"], self.count_events(run["run_id"]), float(run.get("sim_reached") or 0.0), run["status"]

    def events(self, run_id: str | None = None, **filters: Any):
        """The log of a run as a pandas DataFrame, one row per event.

        Columns: seq, time (simulated date-time), sim_time (seconds from the
        start), kind, agent, data (dict), plus the wall-clock dict ``wall``.
        One typed table per kind, ``data`` unpacked: ``sim.analysis.export.tidy_tables``.
        """
        import pandas as pd

        run = self.run(run_id)
        rows = [(e.seq, e.sim_time, e.kind, e.agent, e.data, e.wall)
                for e in self.iter_events(run["run_id"], **filters)]
        frame = pd.DataFrame(rows, columns=["seq", "sim_time", "kind", "agent", "data", "wall"])
        start = pd.Timestamp(run["sim_start"])
        frame.insert(1, "time", start + pd.to_timedelta(frame["sim_time"], unit="s"))
        frame.insert(0, "run_id", run["run_id"])
        return frame


def _process_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
