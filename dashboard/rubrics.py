"""The rubric of a run's log cut at moments: the Believability tab's measures, at t and over time (no Streamlit).

``sim.analysis.rubric`` measures a log in one pass; the tab shows it on the
events up to the chosen time and at cuts every few simulated hours before it.
A cut the run has logged past never changes (rows are numbered in time order,
so nothing at or before it can still come): its measures are kept for the
process by (store, run, cut), across the logs a live run grows into, and a
slider moved back and forth measures nothing twice. A cut at the newest
moment of a live run is kept only for the log it was measured on.

The cuts lie on a grid of ``EVERY_S``; a long run takes every second, fourth,
eighth... line of it, so that a chart has at most ``MAX_CUTS`` points before t
and, as a live run goes on, the cuts kept before still serve. Measuring the
log to a cut is linear in the log (a 25-resident simulated day: about 2 s),
so the tab measures only while it is open (``app.ON_OPEN``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import pandas as pd

from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.analysis.rubric import rubric

EVERY_S = 3 * 3600  # the grid of cuts: rubric_over_time's default
MAX_CUTS = 8  # points per measure on the chart
SHARE = "share"  # the unit of the measures drawn together on one axis, from 0 to 1
CHARTED = ("asleep at night", "out at midday", "plan adherence", "repeated lines", "ungrounded texts")
"""The shares charted until the user picks others: a day's shape, keeping to the plan, repetition, made-up names."""
OVER_TIME_COLUMNS = ["until", "measure", "unit", "value"]


def cuts(t: float) -> list[float]:
    """The simulated seconds the log is measured at for a chart up to t: on the grid, at most ``MAX_CUTS``, then t."""
    step = EVERY_S
    while t > step * MAX_CUTS:  # a coarser grid's lines are lines of every finer one: cuts measured before serve
        step *= 2
    every = [float(step * i) for i in range(1, int(t // step) + 1)]
    return every if every and every[-1] == t else [*every, t]


class Rubrics:
    """The rubric's measures of runs' logs cut at moments, each measured once (up to ``keep`` cuts held)."""

    def __init__(self, keep: int = 512):
        self._keep = keep
        self._held: OrderedDict[tuple, pd.DataFrame] = OrderedDict()
        self._lock = threading.Lock()

    def at(self, log: RunLog, t: float) -> pd.DataFrame:
        """The measures (``sim.analysis.rubric.COLUMNS``) of the events logged up to simulated second t."""
        settled = t < log.logged_until  # else a live run may still log rows at or before t
        key = (log.run.get("db_path"), log.run["run_id"], float(t), None if settled else log.through)
        with self._lock:
            held = self._held.get(key)
            if held is not None:
                self._held.move_to_end(key)
                return held
        measures = rubric(upto(log.events, t), log.scenario, until=t).measures
        with self._lock:
            self._held[key] = measures
            while len(self._held) > self._keep:
                self._held.popitem(last=False)
        return measures

    def over_time(self, log: RunLog, t: float) -> pd.DataFrame:
        """One row per (cut, measure) up to t (``cuts``): ``until`` the simulated date-time, the measure, its
        unit and value; what ``sim.analysis.rubric_time`` gives for the log cut at t, on fewer cuts."""
        frames = [self.at(log, cut).assign(until=pd.Timestamp(log.at(cut))) for cut in cuts(t)]
        return pd.concat(frames, ignore_index=True)[OVER_TIME_COLUMNS]


def charted(over_time: pd.DataFrame, measures: list[str]) -> pd.DataFrame:
    """The rows of the chosen measures that have a value (a measure with nothing to measure yet is no point)."""
    chosen = over_time[over_time["measure"].isin(measures)]
    return chosen.dropna(subset=["value"]).reset_index(drop=True)
