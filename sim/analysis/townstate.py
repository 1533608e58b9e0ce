"""The town at any simulated time: where each agent is, what it is doing, whether it is walking.

An agent's state at t is, for three groups of event kinds (where it is, what
it does, whether it walks), its latest event at or before t: the one logged
last among those. Filtering the whole log again for every t is what made a big
run's dashboard slow; here each group's events are sorted by agent and time
once, so the state at t is one binary search per agent, and a log that grows
(a live run) is extended by its new events only. The dashboard's town map and
the Python API's per-step tables (``sim.analysis.tables``) both read the town this way.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from agentville.sim.core import events
from agentville.sim.core.location import place_of

WHERE, DOING, WALKING = "where", "doing", "walking"
GROUPS: dict[str, tuple[str, ...]] = {WHERE: events.WHERE_LOCATED, DOING: (events.ACTION,),
                                      WALKING: (events.MOVE, events.ARRIVED)}
KINDS = tuple(kind for kinds in GROUPS.values() for kind in kinds)
"""The event kinds the town's state is folded from."""
_GROUPS_OF = {kind: [name for name, kinds in GROUPS.items() if kind in kinds] for kind in KINDS}  # arrived: two


@dataclass(frozen=True)
class Walk:
    """A walk under way: from ``origin`` to ``target`` (places), set off at ``since``, taking ``minutes``."""

    origin: str
    target: str
    since: float
    minutes: float

    def progress(self, t: float) -> float:
        """The share of the way walked by t (a walk without a duration counts as one minute)."""
        return min(1.0, (t - self.since) / ((self.minutes or 1.0) * 60))


@dataclass(frozen=True)
class AgentState:
    """One agent at one time: ``since`` is when its ``activity`` started (simulated seconds)."""

    agent: str
    location: str = ""
    place: str | None = None
    activity: str = ""
    since: float | None = None
    walk: Walk | None = None


@dataclass(frozen=True)
class Latest:
    """The latest event at or before any time, per agent, of one group of kinds.

    ``values`` holds what each event says (in log order, with its agent, time
    and seq); "latest" is the one logged last among those at or before t, as a
    scan of the log in order would find it, even where times are not in log order.
    """

    agents: np.ndarray  # object
    times: np.ndarray  # float
    seqs: np.ndarray  # int
    values: list[Any] = field(default_factory=list)

    @classmethod
    def empty(cls) -> Latest:
        return cls(np.array([], dtype=object), np.array([], dtype=float), np.array([], dtype=np.int64), [])

    def extended(self, agents: Sequence[str], times: Sequence[float], seqs: Sequence[int],
                 values: list[Any]) -> Latest:
        """These events and some logged after them (the index is rebuilt when next asked)."""
        if not len(seqs):
            return self
        return Latest(np.concatenate([self.agents, np.asarray(agents, dtype=object)]),
                      np.concatenate([self.times, np.asarray(times, dtype=float)]),
                      np.concatenate([self.seqs, np.asarray(seqs, dtype=np.int64)]), self.values + values)

    @cached_property
    def _index(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Per agent: its events' times, sorted, and for each, the row logged last among those up to it."""
        if not len(self.seqs):
            return {}
        frame = pd.DataFrame({"agent": self.agents, "time": self.times, "seq": self.seqs}).sort_values(
            ["agent", "time", "seq"], kind="stable")
        last_seq = frame.groupby("agent", sort=False)["seq"].cummax().to_numpy()
        by_seq = np.argsort(self.seqs, kind="stable")
        best = by_seq[np.searchsorted(self.seqs[by_seq], last_seq)]
        agents = frame["agent"].to_numpy()
        starts = np.flatnonzero(np.r_[True, agents[1:] != agents[:-1]])
        ends = np.r_[starts[1:], len(agents)]
        times = frame["time"].to_numpy()
        return {agents[a]: (times[a:b], best[a:b]) for a, b in zip(starts, ends)}

    def rows(self, agent: str, times: np.ndarray | float) -> np.ndarray:
        """The row of ``values`` that is latest at each of ``times`` for ``agent`` (-1: none yet)."""
        found = self._index.get(agent)
        at = np.atleast_1d(np.asarray(times, dtype=float))
        if found is None:
            return np.full(len(at), -1)
        sorted_times, best = found
        i = np.searchsorted(sorted_times, at, side="right") - 1
        return np.where(i >= 0, best[np.maximum(i, 0)], -1)

    @cached_property
    def table(self) -> np.ndarray:
        """``values`` as an array with None after them, so row -1 (nothing yet) reads None."""
        table = np.empty(len(self.values) + 1, dtype=object)
        table[:-1] = self.values
        return table

    def value(self, agent: str, t: float) -> Any:
        """What the latest event at or before t says (None: nothing yet)."""
        row = int(self.rows(agent, t)[0])
        return self.values[row] if row >= 0 else None


def _walk_value(kind: str, time: float, data: dict[str, Any]) -> Walk | None:
    if kind != events.MOVE:
        return None  # arrived: no longer walking
    return Walk(place_of(data["origin"]), place_of(data["target"]), time, float(data.get("minutes") or 0))


_VALUES = {WHERE: lambda kind, time, data: data["location"], DOING: lambda kind, time, data: data["activity"],
           WALKING: _walk_value}


@dataclass(frozen=True)
class TownHistory:
    """Every agent's state at any time, from a run's ``placed``/``arrived``, ``action`` and ``move`` events."""

    groups: dict[str, Latest] = field(default_factory=lambda: {name: Latest.empty() for name in GROUPS})

    @classmethod
    def of(cls, rows: Iterable[tuple[int, float, str, str | None, dict[str, Any]]]) -> TownHistory:
        """The history told by ``(seq, sim_time, kind, agent, data)`` rows in log order (other kinds are skipped)."""
        return cls().extended(rows)

    @classmethod
    def of_frame(cls, frame: pd.DataFrame) -> TownHistory:
        """The same from an events frame (columns seq, sim_time, kind, agent, data)."""
        return cls().extended_by_frame(frame)

    def extended_by_frame(self, frame: pd.DataFrame) -> TownHistory:
        """The same, from an events frame (columns seq, sim_time, kind, agent, data)."""
        return self.extended(zip(*(frame[c].tolist() for c in ("seq", "sim_time", "kind", "agent", "data"))))

    def extended(self, rows: Iterable[tuple[int, float, str, str | None, dict[str, Any]]]) -> TownHistory:
        """This history and the events logged after it (a live run's new rows); each payload read once."""
        new: dict[str, tuple[list, list, list, list]] = {name: ([], [], [], []) for name in GROUPS}
        for seq, time, kind, agent, data in rows:
            if not isinstance(agent, str):  # a frame's missing agent may read NaN, not None
                continue
            for name in _GROUPS_OF.get(kind, ()):
                agents, times, seqs, values = new[name]
                agents.append(agent)
                times.append(time)
                seqs.append(seq)
                values.append(_VALUES[name](kind, time, data))
        return TownHistory({name: self.groups[name].extended(*new[name]) for name in GROUPS})

    def state(self, agent: str, t: float) -> AgentState:
        """Where ``agent`` is at t, what it is doing since when, and whether it is walking."""
        location = self.groups[WHERE].value(agent, t)
        doing = int(self.groups[DOING].rows(agent, t)[0])
        return AgentState(agent, location=location or "", place=place_of(location) if location is not None else None,
                          activity=self.groups[DOING].values[doing] if doing >= 0 else "",
                          since=float(self.groups[DOING].times[doing]) if doing >= 0 else None,
                          walk=self.groups[WALKING].value(agent, t))

    def over(self, agent: str, times: np.ndarray) -> pd.DataFrame:
        """``agent``'s location, place, activity and walk target at each of ``times`` (one row each)."""
        where, doing, walks = (self.groups[name].table[self.groups[name].rows(agent, times)] for name in GROUPS)
        return pd.DataFrame({"sim_time": times, "agent": agent,
                             "place": [place_of(x) if x is not None else None for x in where],
                             "location": where, "activity": doing,
                             "walking_to": [w.target if w is not None else None for w in walks]})
