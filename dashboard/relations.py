"""The Relationships tab: who talked to whom by t, drawn so that it still reads with 25 agents.

Agents sit on a circle in a fixed order (housemates side by side), the same at
every time, so moving the slider grows the graph in place instead of laying it
out anew; an edge is thicker and darker the more the pair talked. The user
can keep only the ties of chosen agents, and of pairs that talked often.
"""

from __future__ import annotations

import streamlit as st

from agentville.dashboard import data
from agentville.sim.core.location import place_of


def show(log: data.RunLog, t: float) -> None:
    pairs = data.relationships(log, t)
    if pairs.empty:
        st.info("Nobody has talked yet")
        return
    left, right = st.columns([3, 1])
    focus = left.multiselect("Only the ties of", circle_order(log), key="ties_of",
                             placeholder="everybody (choose agents to see only theirs)")
    most = int(pairs["conversations"].max())
    least = right.slider("At least this many conversations", 1, max(most, 2), 1, key="least_talks",
                         disabled=most < 2)
    pairs = pairs[pairs["conversations"] >= least]
    st.graphviz_chart(data.relationship_dot(pairs, circle_order(log), focus))
    shown = pairs[pairs["a"].isin(focus) | pairs["b"].isin(focus)] if focus else pairs
    st.caption(f"{len(shown)} pairs shown; hover an edge for its count")
    st.dataframe(shown, hide_index=True, width="stretch")


def circle_order(log: data.RunLog) -> list[str]:
    """The agents around the circle: by home (housemates next to each other), then by name."""
    homes = {p.name: place_of(p.home) for p in log.scenario.personas} if log.scenario else {}
    return sorted(log.agents, key=lambda name: (name not in homes, homes.get(name, ""), name))
