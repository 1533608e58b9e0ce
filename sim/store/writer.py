"""Writing a run's rows into the store: batched commits, and re-lived rows checked against the stored ones.

A resumed run re-lives its stored log before it goes on, and a fork re-lives
its parent's up to the fork; both must log exactly those rows again. The
writer compares each one with the stored row (``StoredPrefix``) and stops the
run at the first difference, so a store never holds two histories spliced.
"""

from __future__ import annotations

import sqlite3
import time
from typing import Any, Protocol

import orjson

from agentville.sim.core import secrets
from agentville.sim.core.errors import UserError


class Database(Protocol):
    """What a writer needs of the store (``EventStore``): its open connection, and to hear of each commit."""

    db: sqlite3.Connection

    def committed(self) -> None: ...


def encode(value: Any) -> str:
    """Compact JSON with sorted keys (deterministic bytes for identical data)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY).decode()


class Diverged(UserError):
    """A re-lived run logged something other than the stored log it must reproduce (it stops, nothing spliced)."""


class StoredPrefix:
    """The stored rows a re-lived run must log again, exactly: a resume's own log, a fork's parent's.

    Rows ``first``..``through`` of ``run_id`` are read in chunks as the run
    goes and compared with what it logs; the first difference raises
    ``Diverged`` (the answers that made the stored log are not all in the
    cache any more, or another model or settings were given), so a run never
    goes on from a history that disagrees with the rows already stored.
    """

    CHUNK = 5000

    def __init__(self, store: Database, run_id: str, *, through: int, first: int = 1, what: str = "resume"):
        self.store, self.run_id, self.first, self.through, self.what = store, run_id, first, through, what
        self._rows: dict[int, tuple[float, str, str | None, str]] = {}
        self._loaded = first - 1

    def check(self, seq: int, sim_time: float, kind: str, agent: str | None, data: str) -> None:
        if not self.first <= seq <= self.through:
            return
        if seq > self._loaded:
            self._load(seq)
        stored = self._rows.pop(seq, None)
        if stored != (sim_time, kind, agent, data):
            was = f"'{stored[1]}' of {stored[2] or 'the engine'} at {stored[0]:g} s" if stored else "missing"
            raise Diverged(f"the {self.what} cannot reproduce run {self.run_id}'s stored log: event {seq} was {was}, "
                           f"now it is '{kind}' of {agent or 'the engine'} at {sim_time:g} s (the answer cache lacks "
                           f"answers the log used, or another model or settings were given); nothing was added")

    def _load(self, seq: int) -> None:
        upto = min(self.through, max(seq, self._loaded) + self.CHUNK)
        found = self.store.db.execute(
            "SELECT seq, sim_time, kind, agent, data FROM events WHERE run_id=? AND seq>? AND seq<=?",
            (self.run_id, self._loaded, upto))
        self._rows.update((row[0], tuple(row[1:])) for row in found)
        self._loaded = upto


class EventWriter:
    """Buffers events and commits them in batches (by count or by age)."""

    def __init__(self, store: Database, run_id: str, *, batch: int, max_delay_s: float, skip_through: int = 0,
                 relive: StoredPrefix | None = None):
        self.store, self.run_id = store, run_id
        self.skip_through = skip_through  # a resumed run re-lives its first events; they are already stored
        self.relive = relive  # the stored rows those first events must equal
        self.diverged = False
        self.batch, self.max_delay_s = batch, max_delay_s
        self.pending: list[tuple[Any, ...]] = []
        self.last_flush = time.monotonic()

    def append(self, seq: int, sim_time: float, kind: str, agent: str | None,
               data: dict[str, Any], wall: dict[str, Any] | None = None) -> None:
        if self.diverged:
            return  # the run is stopping: nothing after a difference is kept
        encoded = secrets.redact(encode(data))  # as the door will store it, so a re-lived row compares equal
        if self.relive is not None:
            try:
                self.relive.check(seq, sim_time, kind, agent, encoded)
            except Diverged:
                self.diverged = True
                self.pending.clear()
                raise
        if seq <= self.skip_through:
            return
        self.pending.append((self.run_id, seq, sim_time, kind, agent, encoded,
                             encode(wall) if wall else None))
        if len(self.pending) >= self.batch or time.monotonic() - self.last_flush >= self.max_delay_s:
            self.flush()

    def check_complete(self, last_seq: int) -> None:
        """A re-lived run that ended must have logged every stored row it had to reproduce."""
        if self.relive is not None and not self.diverged and last_seq < self.relive.through:
            self.diverged = True
            raise Diverged(f"the {self.relive.what} cannot reproduce run {self.relive.run_id}'s stored log: it "
                           f"ended after {last_seq} of its {self.relive.through} events; nothing was added")

    def flush(self) -> None:
        if self.pending:
            with self.store.db:
                self.store.db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?)", self.pending)
            self.pending.clear()
            self.store.committed()  # the store checkpoints on its cadence (sim.store.checkpoints)
        self.last_flush = time.monotonic()
