"""The simulation kernel: simpy, with an order of events that does not depend on how they were run.

simpy breaks ties between events at the same simulated time by a global
insertion counter, so the order depends on which event happened to be
scheduled first. That is deterministic only if every event is processed in
one global order. ``Kernel`` gives each event a key that any execution
order reproduces:

    (time, priority, owner's rank, owner's own counter)

The owner is the agent whose process scheduled the event (or the one named
when a process is started for someone), and the counter is that agent's
count of scheduled events, which only grows in the order its own events are
processed. An event scheduled with a key below the one being processed
(simpy's urgent priority, or a lower-ranked owner at the same time) becomes
its child: it sorts right after it. So processing never goes back in key
order, a run in key order is the fully in-order run, and the log can be
ordered by the key of the event that wrote each row, whatever ran first.

In order (the default), the kernel keeps one heap and runs it like simpy.
Out of order, it keeps one heap per owner and lets ``sim.runtime.scheduler`` pick
which owners may go ahead (``pop_head``/``process``).
"""

from __future__ import annotations

import heapq
from collections.abc import Generator
from typing import Any

import simpy
from simpy.core import EmptySchedule
from simpy.events import NORMAL, Event, Process

Key = tuple  # (time, priority, rank, count[, child, ...])
EXTERNAL = -1  # the rank of what happens outside any agent (the engine, the experimenter)
_INHERIT = object()


class Kernel(simpy.Environment):
    """A simpy environment whose events carry execution-independent keys (see the module docstring)."""

    def __init__(self, *, out_of_order: bool = False):
        super().__init__()
        for name in ("timeout", "event", "all_of", "any_of"):  # bind simpy's factories once, as simpy does
            setattr(self, name, getattr(self, name))
        self.out_of_order = out_of_order
        self.ranks: dict[str | None, int] = {None: EXTERNAL}
        self._counts: dict[int, int] = {EXTERNAL: 0}
        self.current: Key = (0.0, -1, EXTERNAL, 0)  # the key of the event being processed
        self.current_owner: str | None = None
        self._children = 0
        self._spawning: Any = _INHERIT
        self._heap: list[tuple[Key, Event]] = []
        self.queues: dict[str | None, list[tuple[Key, Event]]] = {}  # out of order: one heap per owner
        self.safe_time: float | None = None  # out of order: no event before it is left (None: in order)

    # -- owners ---------------------------------------------------------------
    def register(self, owner: str) -> None:
        """Give ``owner`` the next rank; the engine registers agents in a fixed order before they act."""
        if owner not in self.ranks:
            rank = len(self.ranks) - 1
            self.ranks[owner] = rank
            self._counts[rank] = 0

    def owner_now(self) -> str | None:
        """Whose event a new event is: the process being started or resumed, else the event being processed."""
        if self._spawning is not _INHERIT:
            return self._spawning
        process = self._active_proc
        if process is not None:
            return getattr(process, "owner", self.current_owner)
        return self.current_owner

    def process(self, generator: Generator[Event, Any, Any], owner: Any = _INHERIT) -> Process:
        """Start a process; its events belong to ``owner`` (default: whoever starts it)."""
        who = self.owner_now() if owner is _INHERIT else owner
        previous, self._spawning = self._spawning, who
        try:
            process = Process(self, generator)
        finally:
            self._spawning = previous
        process.owner = who  # type: ignore[attr-defined]
        return process

    # -- scheduling ---------------------------------------------------------
    def schedule(self, event: Event, priority: Any = NORMAL, delay: Any = 0) -> None:
        # owner_now(), inlined: this runs for every event of the run
        if self._spawning is not _INHERIT:
            owner = self._spawning
        elif self._active_proc is not None:
            owner = getattr(self._active_proc, "owner", self.current_owner)
        else:
            owner = self.current_owner
        rank = self.ranks.get(owner)
        if rank is None:
            self.register(owner)
            rank = self.ranks[owner]
        count = self._counts[rank] = self._counts[rank] + 1
        at = self._now + delay
        key: Key = (at, priority, rank, count)
        if at == self._now and key < self.current:
            key = (*self.current, self._children)
            self._children += 1
        event.owner = owner  # type: ignore[attr-defined]
        if self.out_of_order:
            heapq.heappush(self.queues.setdefault(owner, []), (key, event))
        else:
            heapq.heappush(self._heap, (key, event))

    def first_pending(self) -> Key | None:
        """The smallest key of any event not processed yet (None: nothing is pending)."""
        if self.out_of_order:
            heads = [queue[0][0] for queue in self.queues.values() if queue]
            return min(heads) if heads else None
        return self._heap[0][0] if self._heap else None

    def peek(self) -> float:
        first = self.first_pending()
        return float("inf") if first is None else first[0]

    def step(self) -> None:
        """Process the next event in key order (in order only; out of order, the scheduler picks)."""
        try:
            key, event = heapq.heappop(self._heap)
        except IndexError:
            raise EmptySchedule from None
        self.process_event(key, event)

    def pop_head(self, owner: str | None) -> tuple[Key, Event]:
        return heapq.heappop(self.queues[owner])

    def process_event(self, key: Key, event: Event) -> None:
        """Run an event's callbacks at its time, as the event being processed."""
        self._now, self.current, self.current_owner, self._children = key[0], key, event.owner, 0  # type: ignore[attr-defined]
        callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
        for callback in callbacks or ():
            callback(event)
        if not event._ok and not hasattr(event, "_defused"):
            error = type(event._value)(*event._value.args)
            error.__cause__ = event._value
            raise error

    def run_until(self, until: float) -> None:
        """Process every event before ``until`` in key order, then stand at ``until`` outside any event."""
        heap = self._heap
        while heap and heap[0][0][0] < until:
            self.step()
        self.stand_at(until)

    def stand_at(self, moment: float) -> None:
        """Stop between events at ``moment`` (what the experimenter does there sorts before its events)."""
        self._now, self.current, self.current_owner, self._children = moment, (moment, -1, EXTERNAL, 0), None, 0

    def run(self, until: Any = None) -> Any:
        """simpy's ``run`` for a time (as tests and scripts use it) or until the queue is empty."""
        if isinstance(until, Event):
            raise TypeError("Kernel.run takes a time, not an event")
        if self.out_of_order:
            raise RuntimeError("an out-of-order kernel is run by sim.scheduler")
        if until is None:
            while self._heap:
                self.step()
        else:
            self.run_until(float(until))
        return None
