"""What each resident was doing and where, at the clock's five-minute marks, read from a run's events in one pass.

Time-of-day realism and plan adherence (``sim.analysis.rubric``) look at
agents at the same moments: every ``SAMPLE_S`` simulated seconds on the
clock's marks (00:00, 00:05, ...), from an agent's first logged state to the
end of the log. An agent's state changes with its rows: an action sets its
activity (and whether it sleeps), a move sets it walking (nowhere, awake), an
arrival or placing sets its place. Rows are read once and filed by agent, so
the cost per resident stays flat as the town grows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from agentville.sim.core.activities import is_sleep
from agentville.sim.core.events import ACTION, MOVE, WHERE_LOCATED
from agentville.sim.core.location import place_of
from agentville.sim.scenario.schema import Scenario

SAMPLE_S = 300  # agents are looked at every five simulated minutes, on the clock's five-minute marks
DAY_S = 86400


@dataclass(frozen=True)
class Timeline:
    """One agent's state after each of its changes: when, activity, place (None: walking), asleep."""
    times: np.ndarray
    activities: list[str]
    places: list[str | None]
    asleep: np.ndarray

    def marks(self, end: float, offset: float) -> tuple[np.ndarray, np.ndarray]:
        """The five-minute marks from the first change to ``end`` (simulated seconds), and the index of the
        state in force at each; ``offset``: seconds past midnight at the run's start."""
        first = -(-(self.times[0] + offset) // SAMPLE_S) * SAMPLE_S - offset
        grid = np.arange(first, end, SAMPLE_S)
        return grid, np.searchsorted(self.times, grid, side="right") - 1


def seconds_past_midnight(moment: dt.datetime) -> int:
    return moment.hour * 3600 + moment.minute * 60 + moment.second


def timelines(events: pd.DataFrame) -> dict[str, Timeline]:
    """Every agent's timeline, from the rows (in log order) that change where it is and what it does."""
    changes: dict[str, tuple[list[float], list[str], list[str | None], list[bool]]] = {}
    rows = events[events["kind"].isin([*WHERE_LOCATED, MOVE, ACTION])]
    for agent, kind, t, data in zip(rows["agent"], rows["kind"], rows["sim_time"], rows["data"]):
        times, activities, places, asleep = changes.setdefault(agent, ([], [], [], []))
        activity, place, sleeping = (activities[-1], places[-1], asleep[-1]) if times else ("", None, False)
        if kind == ACTION:
            activity = data["activity"]
            sleeping = is_sleep(activity)
        elif kind == MOVE:
            place, sleeping = None, False  # walking: out, and awake
        else:
            place = place_of(data["location"])
        times.append(float(t))
        activities.append(activity)
        places.append(place)
        asleep.append(sleeping)
    return {agent: Timeline(np.asarray(t, dtype=float), a, p, np.asarray(s, dtype=bool))
            for agent, (t, a, p, s) in changes.items()}


def town_places(events: pd.DataFrame, scenario: Scenario | None) -> dict[str, str]:
    """The town's place names (and the scenario's aliases) with the place each names: the scenario's places and
    every place an agent was placed at or arrived at."""
    located = events[events["kind"].isin(WHERE_LOCATED)]
    names = {place: place for place in sorted({place_of(d["location"]) for d in located["data"]})}
    for spec in scenario.places if scenario is not None else ():
        names.update({spec.name: spec.name, **{alias: spec.name for alias in spec.aliases}})
    return names
