"""One run's event log as the dashboard holds it: read a kind at a time, grown by what a live run adds.

A big run's log is hundreds of MB, mostly the prompts of its model calls, and a
view needs only some kinds of events. So a ``RunLog`` read from a store holds
the events up to one seq (``through``) and reads each kind from the store the
first time a view asks for it (model calls without their prompt and output,
which no view shows). While a run is live, ``grown`` gives the log with the
events logged since, reading only those and appending them to the kinds
already read: nothing is read twice, and the town's state index (``town``) is
extended rather than rebuilt from the events. A ``RunLog`` is never changed
once views hold it: sessions that share one see the same events throughout a
page, and a newer log is a new object.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from agentville.sim.analysis import provenance
from agentville.sim.analysis.townstate import KINDS as TOWN_KINDS
from agentville.sim.analysis.townstate import TownHistory
from agentville.sim.core import events
from agentville.sim.scenario.schema import Scenario
from agentville.sim.store.eventstore import EventRow, EventStore

COLUMNS = ["seq", "sim_time", "kind", "agent", "data", "wall"]
UNSHOWN = {events.LLM_CALL: ("prompt", "output", "options", "raw", "seed", "request", "model")}
"""Fields no view shows: a model call's texts are most of a log's bytes, the rest slow every table of calls."""


def open_store(path: str | Path) -> EventStore:
    """The store, read-only: the dashboard never writes."""
    return EventStore(path, read_only=True)


def upto(frame: pd.DataFrame, t: float) -> pd.DataFrame:
    """The events of ``frame`` logged at or before simulated second t: what every view shows at t."""
    return frame[frame["sim_time"] <= t]


def frame_of(rows: list[EventRow] | list[tuple]) -> pd.DataFrame:
    """Event rows as a frame (index: the seqs, so frames of several kinds merge back into log order)."""
    frame = pd.DataFrame(rows, columns=COLUMNS) if rows else pd.DataFrame({c: [] for c in COLUMNS}, columns=COLUMNS)
    frame.index = pd.Index(frame["seq"].to_numpy())
    return frame


class RunLog:
    """One run's events, split by kind, plus what the run says about itself.

    Made from an events frame (``RunLog(run, frame, scenario)``) it holds every
    kind at once; ``read`` makes one that reads the store kind by kind.
    """

    def __init__(self, run: dict[str, Any], events: pd.DataFrame | None = None, scenario: Scenario | None = None,
                 scenario_warning: str | None = None, *, through: int = 0, logged_until: float = 0.0,
                 frames: dict[str, pd.DataFrame] | None = None, complete: bool = False,
                 town: TownHistory | None = None):
        self.run, self.scenario, self.scenario_warning = run, scenario, scenario_warning
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, ...], pd.DataFrame] = {}
        self._by_agent: dict[tuple[str, ...], pd.DataFrame] = {}  # (agent, *kinds): one agent's events
        self._derived: dict[str, Any] = {}
        self._backed = events is None  # read from the store as views ask
        self._all = events
        self._complete = events is not None or complete  # every kind read
        if events is not None:  # everything at hand
            self._frames = {str(kind): part for kind, part in events.groupby("kind", sort=False)}
            self.through = int(events["seq"].max()) if len(events) else 0
            self.logged_until = float(events["sim_time"].max()) if len(events) else 0.0
        else:
            self._frames = dict(frames or {})
            self.through, self.logged_until = through, logged_until
        if town is not None:
            self.__dict__["town"] = town

    @classmethod
    def read(cls, path: str | Path, run_id: str | None = None, **scenario: Any) -> RunLog:
        """The run's log as far as it is written now, reading no events yet but the last."""
        with open_store(path) as store:
            run = dict(store.run(run_id), db_path=str(path))
            through = store.last_seq(run["run_id"])
            last = store.event_rows(run["run_id"], after=through - 1, through=through)
        return cls(run, through=through, logged_until=last[0][1] if last else 0.0, **scenario)

    # -- the log's extent ---------------------------------------------------------------
    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.run["sim_start"])

    @property
    def reached(self) -> float:
        """How far the run has got, in simulated seconds."""
        return max(float(self.run.get("sim_reached") or 0.0), self.logged_until)

    @property
    def end(self) -> float:
        until = self.run.get("sim_until")
        planned = (dt.datetime.fromisoformat(until) - self.start).total_seconds() if until else 0.0
        return max(planned, self.reached)

    @property
    def live(self) -> bool:
        return self.run["status"] == events.RUNNING

    def at(self, seconds: float) -> dt.datetime:
        return self.start + dt.timedelta(seconds=seconds)

    def count_upto(self, t: float) -> int:
        """How many events were logged at or before simulated second t."""
        if self._all is not None:
            return int((self._all["sim_time"] <= t).sum())
        with open_store(self.run["db_path"]) as store:
            return store.count_events(self.run["run_id"], until=t, through=self.through)

    # -- events ---------------------------------------------------------------------------
    @property
    def events(self) -> pd.DataFrame:
        """Every event (seq, sim_time, kind, agent, data, wall) in log order: reads every kind not read yet."""
        if self._all is None:
            with self._lock:
                if self._all is None:
                    if not self._complete:
                        self._load(every=True)
                        self._complete = True
                    self._all = self._merged(list(self._frames))
        return self._all

    def kind(self, *kinds: str) -> pd.DataFrame:
        """The events of these kinds, in log order."""
        key = tuple(sorted(set(kinds)))
        if key not in self._kinds:
            with self._lock:
                if key not in self._kinds:
                    self._load([k for k in key if k not in self._frames])
                    self._kinds[key] = self._merged(list(key))
        return self._kinds[key]

    def of_agent(self, agent: str, *kinds: str) -> pd.DataFrame:
        """One agent's events of these kinds, in log order: read for that agent alone unless the kinds are at hand
        (the inspector needs one agent's memories, not the town's)."""
        key = (agent, *sorted(set(kinds)))
        if not self._backed or all(kind in self._frames for kind in kinds):
            every = self.kind(*kinds)
            return every[every["agent"] == agent]
        if key not in self._by_agent:
            with open_store(self.run["db_path"]) as store:
                rows = store.event_rows(self.run["run_id"], kinds=list(key[1:]), agent=agent, through=self.through,
                                        omit=UNSHOWN)
            self._by_agent[key] = frame_of(rows)
        return self._by_agent[key]

    def _merged(self, kinds: list[str]) -> pd.DataFrame:
        parts = [self._frames[k] for k in kinds if k in self._frames and len(self._frames[k])]
        if not parts:
            return frame_of([])
        return parts[0] if len(parts) == 1 else pd.concat(parts).sort_index()

    def _load(self, kinds: list[str] | None = None, every: bool = False) -> None:
        """Read these kinds (every kind not read yet, with ``every``) up to ``through`` from the store."""
        if not self._backed or not (kinds or every):
            return
        with open_store(self.run["db_path"]) as store:
            rows = store.event_rows(self.run["run_id"], kinds=None if every else kinds, through=self.through,
                                    omit=UNSHOWN)
        split = {str(kind): part for kind, part in frame_of(rows).groupby("kind", sort=False)}
        for kind in [*(kinds or []), *split]:  # kinds with no events yet are read all the same: empty
            self._frames.setdefault(kind, split.get(kind, frame_of([])))

    @property
    def agents(self) -> list[str]:
        started = self.kind(events.RUN_STARTED, events.AGENT_ADDED)
        if (started["kind"] == events.RUN_STARTED).any():  # the first residents, then those added during the run
            return provenance.residents(started)
        if self._all is None:
            with open_store(self.run["db_path"]) as store:
                return store.agents(self.run["run_id"])
        return sorted(a for a in self._all["agent"].dropna().unique())

    def derived(self, name: str, build: Callable[[], Any]) -> Any:
        """What ``build`` makes of this log, made once (a table a view cuts at t, rather than rebuilds)."""
        if name not in self._derived:
            self._derived[name] = build()
        return self._derived[name]

    @cached_property
    def town(self) -> TownHistory:
        """Every agent's place, activity and walk at any time (``sim.analysis.townstate``)."""
        return TownHistory.of_frame(self.kind(*TOWN_KINDS))

    # -- a live run: the events logged since -----------------------------------------------
    def grown(self) -> RunLog:
        """This log with what was logged after it, reading only that (and the run's row, its status now)."""
        if not self._backed:
            raise ValueError("a log given as a frame has no store to grow from")
        with open_store(self.run["db_path"]) as store:
            run = store.run(self.run["run_id"])
            rows = store.event_rows(self.run["run_id"], after=self.through, omit=UNSHOWN)
        new = frame_of(rows)
        split = dict(iter(new.groupby("kind", sort=False)))
        frames = {kind: pd.concat([frame, split[kind]]) if kind in split else frame
                  for kind, frame in self._frames.items()}
        if self._complete:  # a kind first logged now
            frames.update({kind: part for kind, part in split.items() if kind not in frames})
        town = self.__dict__.get("town")
        return RunLog(dict(run, db_path=self.run["db_path"]), None, self.scenario, self.scenario_warning,
                      through=int(new["seq"].max()) if len(new) else self.through,
                      logged_until=max(self.logged_until, float(new["sim_time"].max()) if len(new) else 0.0),
                      frames=frames, complete=self._complete,
                      town=town.extended_by_frame(new) if town is not None else None)


class Logs:
    """The newest log of the runs this process shows, each grown by what its run logged since.

    Pages ask with the run's signature (``EventStore.run_signature``): unchanged,
    they get the log they had; changed, the log grown by the new events only
    (a store whose run lost events since is read again). At most ``keep`` runs
    are held, the least recently asked for dropped first.
    """

    def __init__(self, load: Callable[[str, str], RunLog], keep: int = 4):
        self._load, self._keep = load, keep
        self._held: OrderedDict[tuple[str, str], tuple[tuple, RunLog]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str, run_id: str, signature: tuple) -> RunLog:
        key = (path, run_id)
        with self._lock:  # one reader per store at a time: two pages would read the same events twice
            held = self._held.get(key)
            if held is None or held[1].through > signature[1] or held[0][0] != signature[0]:
                log = self._load(path, run_id)
            elif held[0] != signature:
                log = held[1].grown()
            else:
                log = held[1]
            self._held[key] = (signature, log)
            self._held.move_to_end(key)
            while len(self._held) > self._keep:
                self._held.popitem(last=False)
        return log
