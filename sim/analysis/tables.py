"""Mesa-style tables of a run: every agent's state, and the town's counts, at every step of simulated time.

Agent-based modellers expect two frames from a run (Mesa's DataCollector):
agent variables over time and model variables over time. Both are read from
the event log at regular steps (``every``, a pandas duration: "15min", "1h"):

- ``agent_table``: one row per agent per step: run_id, time, sim_time, agent,
  place, location, activity, walking_to (None unless walking). It is folded by
  ``sim.analysis.townstate``, the same index the dashboard's town map reads, so both
  tell the same story.
- ``model_table``: one row per step: how many agents are walking, conversations
  going on and held so far, and running totals of utterances, memories,
  reflections, plans and model calls.

Either takes an ``EventStore`` or a store's path, and a run id (the newest when None).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from agentville.sim.core import events
from agentville.sim.store.eventstore import EventStore

from .provenance import residents_in
from .townstate import KINDS as TOWN_KINDS
from .townstate import TownHistory

__all__ = ["agent_table", "model_table"]

COUNTED = {  # model_table's running totals: column -> the kind counted
    "conversations_total": events.CONVERSATION_START, "utterances_total": events.UTTERANCE,
    "memories_total": events.MEMORY, "reflections_total": events.REFLECTION, "plans_total": events.PLAN,
    "llm_calls_total": events.LLM_CALL}
UNREAD = {events.LLM_CALL: ("prompt", "output")}  # a model call's texts: not needed to count calls, most of a log


def agent_table(store_or_path: EventStore | str | Path, run_id: str | None = None,
                every: str = "15min") -> pd.DataFrame:
    """Per agent and step: place, location, activity and the place it is walking to (see the module)."""
    with _opened(store_or_path) as store:
        run = store.run(run_id)
        rows = store.event_rows(run["run_id"], kinds=[*TOWN_KINDS, events.RUN_STARTED, events.AGENT_ADDED])
    steps = _steps(run, rows, every)
    town = TownHistory.of((seq, t, kind, agent, data) for seq, t, kind, agent, data, _ in rows)
    parts = [town.over(agent, steps) for agent in _agents(rows)]
    columns = ["run_id", "time", "sim_time", "agent", "place", "location", "activity", "walking_to"]
    if not parts:
        return pd.DataFrame(columns=columns)
    table = pd.concat(parts, ignore_index=True).sort_values(["sim_time"], kind="stable", ignore_index=True)
    return _dated(table, run)[columns]


def model_table(store_or_path: EventStore | str | Path, run_id: str | None = None,
                every: str = "15min") -> pd.DataFrame:
    """Per step: agents walking, conversations ongoing, and the running totals of ``COUNTED`` (see the module)."""
    kinds = sorted({*COUNTED.values(), events.CONVERSATION_END, events.MOVE, events.ARRIVED, events.PLACED,
                    events.RUN_STARTED, events.AGENT_ADDED})
    with _opened(store_or_path) as store:
        run = store.run(run_id)
        rows = store.event_rows(run["run_id"], kinds=kinds, omit=UNREAD)
    steps = _steps(run, rows, every)
    table = pd.DataFrame({"sim_time": steps})
    town = TownHistory.of((seq, t, kind, agent, data) for seq, t, kind, agent, data, _ in rows)
    walking = [town.over(agent, steps)["walking_to"].notna().to_numpy() for agent in _agents(rows)]
    table["agents_walking"] = np.sum(walking, axis=0) if walking else 0
    started, ended = _times(rows, events.CONVERSATION_START), _times(rows, events.CONVERSATION_END)
    table["conversations"] = _counts(started, steps) - _counts(ended, steps)
    for column, kind in COUNTED.items():
        table[column] = _counts(_times(rows, kind), steps)
    return _dated(table, run)


# -- the parts ---------------------------------------------------------------------
@contextmanager
def _opened(store_or_path: EventStore | str | Path) -> Iterator[EventStore]:
    """A store given, as it is; a path, opened read-only for the call."""
    if isinstance(store_or_path, EventStore):
        yield store_or_path
        return
    with EventStore(store_or_path, read_only=True) as store:
        yield store


def _steps(run: dict, rows: list, every: str) -> np.ndarray:
    """0, every, 2 every, ... up to how far the run got (its last step included)."""
    step = pd.Timedelta(every).total_seconds()
    if step <= 0:
        raise ValueError(f"every must be a positive duration, not {every!r}")
    reached = max([float(run.get("sim_reached") or 0.0), *(t for _, t, *_ in rows)])
    return np.arange(0.0, reached + 1e-9, step)


def _agents(rows: list) -> list[str]:
    """The residents: those the run started with, then those added while it ran."""
    return residents_in((kind, agent, data) for _, _, kind, agent, data, _ in rows)


def _times(rows: list, kind: str) -> np.ndarray:
    return np.sort(np.array([t for _, t, k, *_ in rows if k == kind], dtype=float))


def _counts(times: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """How many of ``times`` (sorted) are at or before each step."""
    return np.searchsorted(times, steps, side="right")


def _dated(table: pd.DataFrame, run: dict) -> pd.DataFrame:
    table.insert(0, "run_id", run["run_id"])
    table.insert(1, "time", pd.Timestamp(run["sim_start"]) + pd.to_timedelta(table["sim_time"], unit="s"))
    return table
