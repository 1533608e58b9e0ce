"""The rubric over time: each measure on the log cut every few simulated hours, for the dashboard to plot.

Each step computes the whole rubric again on the log up to its cut
(cumulative: "asleep at night" at 12:00 is over the night so far), so a run of
``n`` steps costs ``n`` rubrics of at most the whole log (a simulated day at
the default three hours: 8 steps), linear in the log at each step. The last
step is the end of the log, whatever ``every_s``.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from agentville.sim.scenario.schema import Scenario

from .rubric import rubric, start_of

OVER_TIME_COLUMNS = ["until", "measure", "value"]


def rubric_over_time(events: pd.DataFrame, scenario: Scenario | None = None,
                     every_s: float = 3 * 3600) -> pd.DataFrame:
    """One row per (cut, measure): ``until`` the simulated date-time the log was cut at, the measure, its value."""
    if every_s <= 0:
        raise ValueError(f"every_s must be positive, not {every_s}")
    if not len(events):
        return pd.DataFrame(columns=OVER_TIME_COLUMNS)
    events = events.sort_values("seq")
    start, end = start_of(events), float(events["sim_time"].max())
    cuts = [every_s * (i + 1) for i in range(int(end // every_s))]
    if not cuts or cuts[-1] < end:
        cuts.append(end)
    frames = []
    for cut in cuts:
        measures = rubric(events[events["sim_time"] <= cut], scenario, until=cut).measures
        frames.append(pd.DataFrame({"until": start + dt.timedelta(seconds=cut), "measure": measures["measure"],
                                    "value": measures["value"]}))
    return pd.concat(frames, ignore_index=True)[OVER_TIME_COLUMNS]
