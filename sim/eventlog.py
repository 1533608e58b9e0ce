"""The run's event log: sequence numbers, counts by kind, and the store's writer.

It is the only code that numbers events, so ``seq`` is gap-free and in the
order things happened in simulated time (ties in the order they were logged).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import simpy

from . import events
from .store import EventWriter


class EventLog:
    """Appends events at the environment's current simulated time."""

    def __init__(self, env: simpy.Environment):
        self.env = env
        self.seq = 0  # the last event's number; also how many events were logged
        self.kinds: Counter[str] = Counter()
        self._writer: EventWriter | None = None

    @property
    def recording(self) -> bool:
        return self._writer is not None

    def open(self, writer: EventWriter) -> None:
        self._writer = writer

    def close(self) -> None:
        """Commit what is pending and stop recording."""
        if self._writer is not None:
            self._writer.flush()
            self._writer = None

    def flush(self) -> None:
        """Commit what is pending, so readers of the store see it."""
        if self._writer is not None:
            self._writer.flush()

    def __call__(self, kind: str, agent: str | None = None, /, *, wall: dict[str, Any] | None = None,
                 **data: Any) -> None:
        """Append one event of a kind from ``sim.events`` at the current simulated time."""
        if self._writer is None:
            raise RuntimeError("the simulation is not running; call run() first")
        if kind not in events.KINDS:
            raise ValueError(f"unknown event kind {kind!r}; every kind is defined in agentville.sim.events")
        self.seq += 1
        self.kinds[kind] += 1
        self._writer.append(self.seq, round(self.env.now, 3), kind, agent, data, wall)
