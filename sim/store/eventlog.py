"""The run's event log: sequence numbers, counts by kind, and the store's writer.

It is the only code that numbers events, so ``seq`` is gap-free and in the
order things happened: simulated time, then the kernel's key of the event
that logged the row (``sim.core.kernel``), then the order rows were logged while
processing it. Run in order, rows arrive in that order and are written at
once; run out of order, they wait in a heap until the scheduler says no
earlier row can come any more (``release``).
"""

from __future__ import annotations

import heapq
from collections import Counter
from typing import Any

from agentville.sim.core import events
from agentville.sim.core.kernel import Kernel, Key

from .writer import EventWriter

Row = tuple[float, str, str | None, dict[str, Any], dict[str, Any] | None]


class EventLog:
    """Appends events at the kernel's current simulated time, numbered in key order."""

    def __init__(self, env: Kernel):
        self.env = env
        self.seq = 0  # the last written event's number; also how many events were written
        self.kinds: Counter[str] = Counter()
        self._writer: EventWriter | None = None
        self._pending: list[tuple[Key, int, Row]] = []  # out of order: rows not yet numbered
        self._row_key: Key | None = None
        self._row_index = 0

    @property
    def recording(self) -> bool:
        return self._writer is not None

    @property
    def pending(self) -> int:
        """Rows logged but not numbered yet (out of order, while an earlier row may still come)."""
        return len(self._pending)

    def open(self, writer: EventWriter) -> None:
        self._writer = writer

    def close(self, before: Key | None = None) -> None:
        """Number and commit what is pending (only rows before ``before``) and stop recording.

        A run stopped in the middle passes the key of its first unprocessed
        event: rows that areas ahead of it logged are dropped, so the store
        keeps exactly a prefix of the in-order log (what a resume re-lives).
        """
        if self._writer is not None:
            writer = self._writer
            try:
                self.release(before)
                self._pending.clear()
                writer.flush()
                if before is None:
                    writer.check_complete(self.seq)
            finally:
                self._writer = None

    def flush(self) -> None:
        """Commit what is numbered, so readers of the store see it."""
        if self._writer is not None:
            self._writer.flush()

    def release(self, before: Key | None = None) -> None:
        """Number and write the pending rows logged by events sorting before ``before`` (all: None)."""
        pending = self._pending
        while pending and (before is None or pending[0][0] < before):
            _, _, row = heapq.heappop(pending)
            self._write(row)

    def __call__(self, kind: str, agent: str | None = None, /, *, wall: dict[str, Any] | None = None,
                 **data: Any) -> None:
        """Append one event of a kind from ``sim.core.events`` at the current simulated time."""
        if self._writer is None:
            raise RuntimeError("the simulation is not running; call run() first")
        if kind not in events.KINDS:
            raise ValueError(f"unknown event kind {kind!r}; every kind is defined in agentville.sim.core.events")
        self.kinds[kind] += 1
        row: Row = (round(self.env.now, 3), kind, agent, data, wall)
        if not self.env.out_of_order:
            self._write(row)
            return
        key = self.env.current
        if key != self._row_key:
            self._row_key, self._row_index = key, 0
        self._row_index += 1
        heapq.heappush(self._pending, (key, self._row_index, row))

    def _write(self, row: Row) -> None:
        assert self._writer is not None
        self.seq += 1
        self._writer.append(self.seq, *row)
