"""The event store: one SQLite file per study, the append-only event log and how runs are written and read."""

from agentville.sim.core.events import CRASHED, FAILED, FINISHED, INTERRUPTED, RUNNING

from .eventstore import Event, EventRow, EventStore, RunSignature

__all__ = ["CRASHED", "FAILED", "FINISHED", "INTERRUPTED", "RUNNING", "Event", "EventRow", "EventStore",
           "RunSignature"]
