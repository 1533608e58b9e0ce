"""The Town map tab: places, paths and agents at a simulated time, and the interactions between them.

A line joins two people talking, the latest line of their talk floats by the
speaker, and the hover tells what each is doing and with whom. Beside the
map, "Latest lines" lists the newest things said. With many agents at one
place the markers fan out above it and only a few names are written; the
place's name below stays readable (text has a white halo over lines and
markers).
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from agentville.dashboard import interactions, town
from agentville.dashboard.plain import clip, md
from agentville.dashboard.runlog import RunLog

BUBBLE_CHARS = 40  # a line floating on the map is cut here; the hover has it whole
FEED_LINES = 8
NAMED_IN_CROWD = 2  # a crowd's note names this many (people talking first), then "+N more"
TALK = "#d9480f"  # people talking, the lines between them and what they say
AGENT = "#4263eb"


def show(log: RunLog, t: float) -> None:
    """The map with the "Latest lines" feed beside it, then who is where as a table."""
    places = town.place_layout(log)
    states = town.agent_states(log, t)
    talks = interactions.talks_at(log, t)
    agents = with_talks(town.agent_positions(states, places, interactions.partners(talks)), talks)
    left, right = st.columns([7, 2])
    with left:
        st.altair_chart(chart(places, town.path_segments(log, places), agents, talks), width="stretch", height=560)
    with right:
        feed(interactions.latest_lines(log, t, FEED_LINES))
    st.caption(f"{len(states)} agents: " + ", ".join(md(name) for name in states["agent"]))
    shown = states[["agent", "emoji", "activity", "location", "since"]].rename(columns={"emoji": ""})
    st.dataframe(shown, hide_index=True, width="stretch")


def feed(lines: pd.DataFrame) -> None:
    """The newest lines said, newest first: time, speaker → listener, then the line."""
    st.markdown("**Latest lines**")
    if lines.empty:
        st.caption("Nobody has said anything yet")
        return
    with st.container(height=520, border=False):
        for line in lines.itertuples():
            st.caption(f"**{line.time:%H:%M}** · {md(line.speaker)} → {md(line.listener)}")
            st.caption(md(line.text))


def with_talks(agents: pd.DataFrame, talks: pd.DataFrame) -> pd.DataFrame:
    """``agents`` (``town.agent_positions``) with whom each is talking and the latest line of that talk."""
    partner = interactions.partners(talks)
    line = {}
    for talk in talks.sort_values(["ongoing", "started"], kind="stable").itertuples():
        said = f"{talk.speaker}: {talk.text}" if isinstance(talk.text, str) else ""
        line[talk.a] = line[talk.b] = said
    return agents.assign(talking_with=[partner.get(a, "") for a in agents["agent"]],
                         last_line=[line.get(a, "") for a in agents["agent"]])


def talk_links(agents: pd.DataFrame, talks: pd.DataFrame) -> pd.DataFrame:
    """A segment between the two people of each talk shown (both on the map), with its latest line."""
    xy = agents.set_index("agent")[["x", "y"]]
    rows = [{"x": xy.loc[t.a, "x"], "y": xy.loc[t.a, "y"], "x2": xy.loc[t.b, "x"], "y2": xy.loc[t.b, "y"],
             "talk": f"{t.a} ↔ {t.b}", "line": f"{t.speaker}: {t.text}" if isinstance(t.text, str) else "",
             "ongoing": bool(t.ongoing)}
            for t in talks.itertuples() if t.a in xy.index and t.b in xy.index]
    return pd.DataFrame(rows, columns=["x", "y", "x2", "y2", "talk", "line", "ongoing"])


def bubbles(agents: pd.DataFrame, talks: pd.DataFrame, unit: float) -> pd.DataFrame:
    """The latest line of each talk, cut to ``BUBBLE_CHARS``, over its speaker (``line`` has it whole).

    Lines said at one place stack upwards from the highest marker there, ``unit`` (``town.map_unit``) apart
    times a line's height, so that two talks at the cafe do not write over each other.
    """
    where = agents.set_index("agent")[["x", "y", "place"]]
    top = agents.groupby("place")["y"].min()
    stacked: dict[str, int] = {}
    rows = []
    for talk in talks.itertuples():
        if not isinstance(talk.text, str) or talk.speaker not in where.index:
            continue
        x, y, place = where.loc[talk.speaker]
        if place:  # a walker's line floats over the walker
            k = stacked[place] = stacked.get(place, -1) + 1
            y = top[place] - unit * 2.6 * k
        rows.append({"x": x, "y": y, "bubble": f"“{clip(talk.text, BUBBLE_CHARS)}”", "speaker": talk.speaker,
                     "line": talk.text})
    return pd.DataFrame(rows, columns=["x", "y", "bubble", "speaker", "line"])


def crowd_notes(agents: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Under each place whose agents are not named on the map: a few names (talkers first) and "+N more"."""
    xy = places.set_index("place")[["x", "y"]]
    rows = []
    for place, crowd in agents[agents["place"] != ""].groupby("place", sort=False):
        if (crowd["tag"] != "").any() or place not in xy.index:
            continue
        crowd = crowd.sort_values("talking_with", key=lambda s: s == "", kind="stable") if "talking_with" in crowd \
            else crowd
        named = list(crowd["agent"][:NAMED_IN_CROWD])
        rows.append({"x": xy.loc[place, "x"], "y": xy.loc[place, "y"], "place": place,
                     "note": f"{', '.join(named)} +{len(crowd) - len(named)} more"})
    return pd.DataFrame(rows, columns=["x", "y", "place", "note"])


def chart(places: pd.DataFrame, paths: pd.DataFrame, agents: pd.DataFrame, talks: pd.DataFrame) -> alt.LayerChart:
    """The map's layers in one coordinate frame (no axes, y downwards as on a map)."""
    # a layer with default axes next to these breaks the chart in the browser: every layer uses x and y
    x = alt.X("x:Q", axis=None, scale=alt.Scale(domain=extent(places["x"], agents["x"], 8), nice=False, zero=False))
    y = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=extent(places["y"], agents["y"], 5), nice=False, zero=False,
                                                reverse=True))
    roads = alt.Chart(paths).mark_rule(color="#c8c8c8", strokeWidth=2).encode(x=x, y=y, x2="x2:Q", y2="y2:Q")
    spots = alt.Chart(places).mark_square(size=900, opacity=0.35, color="#8fb9a8").encode(
        x=x, y=y, tooltip=["place:N", "kind:N"])
    talking = alt.condition("datum.talking_with != ''", alt.value(TALK), alt.value(AGENT))
    people = alt.Chart(agents).mark_circle(size=120, opacity=1, stroke="white", strokeWidth=1).encode(
        x=x, y=y, color=talking, tooltip=[
            alt.Tooltip("agent:N"), alt.Tooltip("activity:N"), alt.Tooltip("location:N"),
            alt.Tooltip("talking_with:N", title="talking with"), alt.Tooltip("last_line:N", title="last line")])
    layers = [roads, spots]
    links = talk_links(agents, talks)
    if len(links):  # layers with nothing to draw are left out: each costs time to build (a big town's map)
        layers.append(alt.Chart(links).mark_rule(color=TALK, strokeWidth=3).encode(
            x=x, y=y, x2="x2:Q", y2="y2:Q", opacity=alt.condition("datum.ongoing", alt.value(0.9), alt.value(0.35)),
            tooltip=["talk:N", "line:N"]))
    layers += [people, *halo(places, "place", x, y, dy=24, color="#335")]
    named = agents.loc[agents["tag"] != "", ["x", "y", "tag", "side"]]
    layers += [*halo(crowd_notes(agents, places), "note", x, y, dy=37, color="#555", fontStyle="italic"),
               *halo(named[named["side"] == "right"], "tag", x, y, dx=9, align="left"),
               *halo(named[named["side"] == "left"], "tag", x, y, dx=-9, align="right"),
               *halo(bubbles(agents, talks, town.map_unit(places)), "bubble", x, y, dy=-12, color=TALK,
                     fontStyle="italic", tooltip=["speaker:N", "line:N"])]
    return alt.layer(*layers).configure_view(strokeWidth=0)


def extent(places: pd.Series, agents: pd.Series, margin: float) -> list[float]:
    """The span of the places and agents, and ``margin`` hundredths of it around, for the names written beside."""
    both = pd.concat([places, agents]).astype(float)
    low, high = (float(both.min()), float(both.max())) if len(both) else (0.0, 100.0)
    pad = margin * ((high - low) or 100.0) / 100
    return [low - pad, high + pad]


def halo(frame: pd.DataFrame, field: str, x: alt.X, y: alt.Y, tooltip: list | None = None, **style) -> list[alt.Chart]:
    """Text ``field`` drawn twice, a thick white stroke under it, so it reads over lines and markers (no layers
    for no rows)."""
    if frame.empty:
        return []
    base = alt.Chart(frame)
    style = {"fontSize": 11, **style}
    encoding = {"x": x, "y": y, "text": f"{field}:N"} | ({"tooltip": tooltip} if tooltip else {})
    under = base.mark_text(**{**style, "color": "white"}, stroke="white", strokeWidth=3, strokeJoin="round")
    return [under.encode(**encoding), base.mark_text(**style).encode(**encoding)]

