"""The Diffusion tab: who knew a fact by t and from whom they heard it (the paper's diffusion study, told as a
tree): a chart of first knowing with a line from each teller, the tree as text, and the table."""

from __future__ import annotations

import altair as alt
import streamlit as st

from agentville.dashboard import spread
from agentville.dashboard.runlog import RunLog
from agentville.sim.analysis import provenance


def show(log: RunLog, t: float) -> None:
    typed = st.text_input("Keywords of a fact (comma separated)", key="keywords",
                          placeholder="e.g. Valentine, party",
                          help="an agent knows the fact from its first memory that names one of them (whole words; "
                               "plurals and possessives count), or from the start when its persona names one")
    keywords = provenance.split_keywords(typed)
    if not keywords:
        st.info("Type the keywords of a fact to see who knew it by this time, and from whom they heard it")
        return
    known = spread.spread(log, t, keywords)
    cols = st.columns([1, 3])
    cols[0].metric("Residents who know it", f"{known.knowing} of {len(known.residents)} ({known.share:.0%})")
    if known.table.empty:
        cols[1].info("Nobody knows it yet: no memory or persona names these keywords")
        return
    cols[1].caption("When each resident first knew it: a line runs from whoever told it, along the teller's row, "
                    "to the listener; the colour says how each came to know it (at the start, in a conversation, "
                    "or by itself).")
    points, links = spread.chart_points(known.table), spread.chart_links(known.table)
    x = alt.X("time:T", title="first knew (simulated time)")
    y = alt.Y("agent:N", title=None, sort=list(points["agent"]), axis=alt.Axis(labelOverlap=False))
    tellings = alt.Chart(links).mark_line(color="#9a9a9a").encode(x=x, y=y, detail="link:N", order="step:Q")
    colours = alt.Scale(domain=list(spread.COLOURS), range=list(spread.COLOURS.values()))
    knowers = alt.Chart(points).mark_circle(size=140, opacity=1).encode(
        x=x, y=y, color=alt.Color("how:N", scale=colours, legend=alt.Legend(orient="bottom")),
        tooltip=["agent:N", "how:N", "source:N", "place:N", alt.Tooltip("time:T", format="%a %H:%M"), "text:N"])
    st.altair_chart((tellings + knowers).properties(height=alt.Step(24)), width="stretch")
    st.code(provenance.tree_text(known.table), language=None)  # monospaced: the branches line up
    st.dataframe(spread.shown_table(known.table), hide_index=True, width="stretch")
