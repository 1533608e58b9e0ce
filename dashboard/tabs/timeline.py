"""The Timeline tab: who did what where, one row of bars per agent, coloured by place, over a chosen window."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from agentville.dashboard import charts, town
from agentville.dashboard.runlog import RunLog

HOURS = {"whole run": None, "last 12 h": 12.0, "last 4 h": 4.0, "last hour": 1.0}
# Tableau 20's ten strong colours, then its ten light ones, then four dark: a scenario lists its public places
# first, so those get the most distinct colours; a place keeps its colour whatever the time shown.
PLACE_COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#b6992d", "#499894", "#9d7660",
                 "#d37295", "#79706e", "#a0cbe8", "#ffbe7d", "#8cd17d", "#ff9d9a", "#d4a6c8", "#f1ce63",
                 "#86bcb6", "#d7b5a6", "#fabfd2", "#bab0ac", "#1b3a6b", "#17becf", "#bcbd22", "#762a83"]


def show(log: RunLog, t: float) -> None:
    window = st.segmented_control("Window", list(HOURS), default="whole run", key="timeline_window")
    bars = charts.timeline(log, t, hours=HOURS.get(window or "whole run"))
    if bars.empty:
        st.info("No actions yet")
        return
    shrunk_to = bars.attrs.pop("shrunk_to", None)  # popped: Streamlit would try to send the attrs as JSON
    if shrunk_to is not None:
        st.caption(f"The latest {len(bars):,} actions, from {shrunk_to:%a %H:%M} "
                   f"(a chart draws at most {charts.MAX_BARS:,} bars)")
    chart = alt.Chart(bars).mark_bar().encode(
        x=alt.X("start:T", title="simulated time"), x2="end:T", y=alt.Y("agent:N", title=None),
        # colour by place: the agent is already the row; 24 colours, each place's the same at every time
        color=alt.Color("place:N", scale=place_scale(town.place_layout(log)["place"], bars["place"]),
                        legend=alt.Legend(orient="bottom", columns=3, symbolLimit=48, labelLimit=280)),
        tooltip=["agent", "activity", "place", alt.Tooltip("start:T", format="%H:%M"),
                 alt.Tooltip("end:T", format="%H:%M")],
    ).properties(height=alt.Step(24))  # one 24-pixel row per agent
    st.altair_chart(chart, width="stretch")


def place_scale(places: pd.Series, shown: pd.Series) -> alt.Scale:
    """One colour per place, in the scenario's order (then places it does not list)."""
    domain = list(dict.fromkeys([*places, *sorted(set(shown) - set(places))]))
    return alt.Scale(domain=domain, range=PLACE_COLOURS)
