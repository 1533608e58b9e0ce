"""The Relationships tab: who talked to whom by t, drawn so that it still reads with 25 agents.

Agents sit on a circle in a fixed order (housemates side by side), the same at
every time, so moving the slider grows the graph in place instead of laying it
out anew; an edge is thicker and darker the more the pair talked. The user
can keep only the ties of chosen agents, and of pairs that talked often.
"""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import streamlit as st

from agentville.dashboard import interactions, layout
from agentville.dashboard.runlog import RunLog
from agentville.sim.core.location import place_of


def show(log: RunLog, t: float) -> None:
    pairs = interactions.relationships(log, t)
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
    st.graphviz_chart(relationship_dot(pairs, circle_order(log), focus))
    shown = pairs[pairs["a"].isin(focus) | pairs["b"].isin(focus)] if focus else pairs
    st.caption(f"{len(shown)} pairs shown; hover an edge for its count")
    st.dataframe(shown, hide_index=True, width="stretch")


def circle_order(log: RunLog) -> list[str]:
    """The agents around the circle: by home (housemates next to each other), then by name."""
    homes = {p.name: place_of(p.home) for p in log.scenario.personas} if log.scenario else {}
    return sorted(log.agents, key=lambda name: (name not in homes, homes.get(name, ""), name))


NODE_SPACING_IN = 1.4  # inches between neighbours on the relationship circle
ALL_NODES_UP_TO = 60  # in a bigger town the graph shows only those with a tie shown (or chosen)


def relationship_dot(pairs: pd.DataFrame, agents: list[str], focus: Collection[str] = ()) -> str:
    """A Graphviz graph of the pairs: ``agents`` pinned on a circle in their order (the same at every time),
    edges thicker and darker with more conversations, and with ``focus``, only the ties of those agents."""
    def quote(name: str) -> str:
        """A DOT string showing ``name`` as it is: Graphviz reads escapes (\\N, \\n) and entities (&lt;) in labels."""
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") + '"'

    names = list(dict.fromkeys([*agents, *sorted(set(pairs["a"]) | set(pairs["b"]))]))
    at = dict(zip(names, layout.circle(len(names), NODE_SPACING_IN)))
    shown = pairs[pairs["a"].isin(focus) | pairs["b"].isin(focus)] if focus else pairs
    tied = set(shown["a"]) | set(shown["b"])
    most = max(1, int(shown["conversations"].max())) if len(shown) else 1
    lines = ["graph G {", 'layout=neato; splines=false; outputorder=edgesfirst;',
             'node [shape=box, style="rounded,filled", color="#9aaccc", fillcolor="#e8f0fe", fontsize=14];']
    for name in names:
        if len(names) > ALL_NODES_UP_TO and name not in tied and name not in focus:
            continue
        look = (' fillcolor="#ffd8a8", color="#d9480f"' if name in focus else
                "" if name in tied else ' fontcolor="#9a9a9a", color="#dddddd", fillcolor="#f6f6f6"')
        lines.append(f'{quote(name)} [pos="{at[name][0]:.2f},{at[name][1]:.2f}!"{look}];')
    for r in shown.itertuples():
        share = r.conversations / most  # the most talkative pair: 6 points wide and opaque
        said = f"{r.a} – {r.b}: {r.conversations} conversation" + ("s" if r.conversations != 1 else "")
        lines.append(f'{quote(r.a)} -- {quote(r.b)} [penwidth={1 + 5 * share:.1f}, '
                     f'color="#3b6ea5{int(70 + 185 * share):02x}", tooltip={quote(said)}];')
    return "\n".join(lines + ["}"])
