"""What charts draw, never more rows than a chart takes: the timeline's bars, box plots' sketches, step curves.

Altair refuses more than ``MAX_BARS`` rows (and a browser would crawl), so a
day of 1,000 residents is cut to what shows the same to the eye: the latest
bars, each group's quantiles, a curve's peaks.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.core import events
from agentville.sim.core.location import place_of

MAX_BARS = 5000  # what a chart may draw: Altair refuses more rows (and a browser would crawl)


def timeline(log: RunLog, t: float, hours: float | None = None, max_bars: int = MAX_BARS) -> pd.DataFrame:
    """Actions as bars: who did what, where, from when to when (until the next action or t).

    Only bars in the last ``hours`` before t (all: None), and never more than
    ``max_bars``: in a big town the window shrinks to the latest bars that fit.
    Bars that began before the window are cut at its start.
    """
    acts = upto(log.kind(events.ACTION), t)
    if acts.empty:
        return pd.DataFrame(columns=["agent", "start", "end", "activity", "place"])
    frame = pd.DataFrame({"agent": acts["agent"].values, "sim_time": acts["sim_time"].values,
                          "data": acts["data"].values})
    frame["end_time"] = frame.groupby("agent")["sim_time"].shift(-1).fillna(t)
    cut = t - hours * 3600 if hours is not None else -math.inf
    shrunk = (frame["end_time"] > cut).sum() > max_bars
    if shrunk:  # the latest bars that fit: those ending after the max_bars-th latest end
        cut = float(np.sort(frame["end_time"].to_numpy())[-max_bars])
    frame = frame[frame["end_time"] > cut].copy()
    frame["activity"] = [d["activity"] for d in frame["data"]]
    frame["place"] = [place_of(d["location"]) for d in frame["data"]]
    frame["start"] = log.at(0) + pd.to_timedelta(frame["sim_time"].clip(lower=cut), unit="s")
    frame["end"] = log.at(0) + pd.to_timedelta(frame["end_time"], unit="s")
    bars = frame[["agent", "start", "end", "activity", "place"]].reset_index(drop=True)
    if shrunk:
        bars.attrs["shrunk_to"] = log.at(cut)  # where the bars begin
    return bars


def sketch(frame: pd.DataFrame, value: str, by: str, limit: int = MAX_BARS) -> pd.DataFrame:
    """``frame``'s ``value`` per ``by`` for a box plot: as it is when small, else each group's quantiles at
    evenly spaced probabilities (at most ``limit`` rows in all), whose box plot is the same to the eye:
    the median and quartiles are kept, the whiskers and outliers drawn from the sketch."""
    shown = frame[[by, value]]
    if len(shown) <= limit:
        return shown
    points = max(5, limit // max(1, shown[by].nunique()))
    probabilities = np.linspace(0, 1, points)
    parts = [pd.DataFrame({by: name, value: np.quantile(group.to_numpy(dtype=float), probabilities)})
             for name, group in shown.groupby(by)[value]]
    return pd.concat(parts, ignore_index=True)


def thin_steps(steps: pd.DataFrame, x: str, y: str, limit: int = MAX_BARS) -> pd.DataFrame:
    """A step curve of at most ``limit`` points: the highest ``y`` in each of ``limit`` equal spans of ``x``
    (peaks are kept; a dip shorter than a span is not drawn)."""
    if len(steps) <= limit:
        return steps
    spans = np.linspace(steps[x].min(), steps[x].max(), limit + 1)
    which = np.clip(np.searchsorted(spans, steps[x], side="right") - 1, 0, limit - 1)
    peaks = steps.groupby(which)[y].max()
    return pd.DataFrame({x: spans[peaks.index.to_numpy()], y: peaks.to_numpy()})
