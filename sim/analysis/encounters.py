"""Who was where, and who talked with whom, read from a run's events.

Plain measures over a log (a DataFrame from ``EventStore.events``) that both the
lab's studies (``sim.lab.metrics``) and the believability rubric
(``sim.analysis.rubric``) use.
"""

from __future__ import annotations

import pandas as pd

from agentville.sim.core.events import CONVERSATION_END, MOVE, WHERE_LOCATED, Arrived, Placed
from agentville.sim.core.location import place_of


def conversation_pairs(events: pd.DataFrame) -> set[frozenset[str]]:
    ends = events[events["kind"] == CONVERSATION_END]
    return {frozenset((a, d["partner"])) for a, d in zip(ends["agent"], ends["data"])}


def density(edges: set[frozenset[str]], agents: int) -> float:
    """2|E| / (|V| (|V| - 1)): the share of possible pairs that are connected."""
    return 2 * len(edges) / (agents * (agents - 1)) if agents > 1 else 0.0


def presence(events: pd.DataFrame) -> pd.DataFrame:
    """Intervals (agent, place, start, end in simulated seconds) each agent spent at a place."""
    moves = events[events["kind"].isin([*WHERE_LOCATED, MOVE])].sort_values("seq")
    end_of_log = float(events["sim_time"].max()) if len(events) else 0.0
    rows: list[tuple[str, str, float, float]] = []
    here: dict[str, tuple[str, float]] = {}
    for agent, kind, t, data in zip(moves["agent"], moves["kind"], moves["sim_time"], moves["data"]):
        if agent in here:
            place, since = here.pop(agent)
            rows.append((agent, place, since, t))
        if kind in WHERE_LOCATED:
            where: Placed | Arrived = data
            here[agent] = (place_of(where["location"]), t)
    rows += [(agent, place, since, end_of_log) for agent, (place, since) in here.items()]
    return pd.DataFrame(rows, columns=["agent", "place", "start", "end"])


def conversation_counts(events: pd.DataFrame) -> pd.Series:
    """Conversations each agent took part in."""
    ends = events[events["kind"] == CONVERSATION_END]
    people = list(ends["agent"]) + [d["partner"] for d in ends["data"]]
    return pd.Series(people, dtype=object).value_counts().rename("conversations")
