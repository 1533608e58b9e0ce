"""How far a fact had spread by t: who knew it, from whom they heard it (the Diffusion tab's data, no Streamlit).

The tree itself is ``sim.analysis.provenance``'s; this module cuts the log at t, finds
the personas (the scenario's, and those of agents added during the run) and
lays the tree out for a chart: one row per agent in order of first knowing,
a point where it first knew, an elbow from its teller's point to its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.analysis import provenance

COLOURS = {provenance.AT_START: "#e4572e", provenance.CONVERSATION: "#4c78a8", provenance.OBSERVED: "#54a24b",
           provenance.THOUGHT: "#b279a2", provenance.PLANNED: "#9d755d"}  # how each agent came to know it


@dataclass
class Spread:
    """How far a fact had spread by a moment: the diffusion table and everyone living in the town then."""

    table: pd.DataFrame  # sim.provenance.COLUMNS
    residents: list[str]

    @property
    def knowing(self) -> int:
        return len(self.table)

    @property
    def share(self) -> float:
        return len(self.table) / len(self.residents) if self.residents else 0.0


def spread(log: RunLog, t: float, keywords: list[str]) -> Spread:
    """Who knew the fact (first mention of one of ``keywords``) by t; only events up to t count."""
    seen = upto(log.kind(*provenance.KINDS_READ), t)  # not the whole log: a big run's is millions of rows
    personas = provenance.persona_texts(seen, log.scenario.personas if log.scenario else [])
    # a scenario's personas who are not (yet) living in the run know nothing here
    table = provenance.diffusion(seen, keywords, personas, start=log.start)
    return Spread(table, provenance.residents(seen))


def chart_points(table: pd.DataFrame) -> pd.DataFrame:
    """One point per agent: when it first knew, how, from whom (``order`` is its row, first knower 0)."""
    points = table[["agent", "time", "how", "source", "place", "text"]].copy()
    points["order"] = range(len(points))
    points["source"] = points["source"].fillna("")
    points["place"] = points["place"].fillna("")
    return points


def chart_links(table: pd.DataFrame) -> pd.DataFrame:
    """An elbow per telling, three rows (``step`` 0-2) told apart by ``link``: from the teller's first knowing
    along its row to the moment the listener knew, then across to the listener's row."""
    rows = []
    when = dict(zip(table["agent"], table["time"]))
    for listener, teller in zip(table["agent"], provenance.parents(table)):
        if teller is not None:
            link = f"{teller} → {listener}"
            rows += [{"link": link, "step": 0, "agent": teller, "time": when[teller]},
                     {"link": link, "step": 1, "agent": teller, "time": when[listener]},
                     {"link": link, "step": 2, "agent": listener, "time": when[listener]}]
    return pd.DataFrame(rows, columns=["link", "step", "agent", "time"])


def shown_table(table: pd.DataFrame) -> pd.DataFrame:
    """The table as the page shows it: times to the minute, the columns in reading order."""
    shown = table.drop(columns=["sim_time"]).copy()
    shown["time"] = shown["time"].dt.strftime("%a %H:%M")
    for column in ("source", "conversation", "place"):  # empty, not "None", for those who heard it from no one
        shown[column] = shown[column].fillna("")
    return shown
