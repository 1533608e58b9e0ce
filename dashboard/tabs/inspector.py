"""The Agents tab: one agent at t, its persona and what it is doing, its day plan, its memory stream scored as
retrieval scores it, and its reflections with their evidence."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from agentville.dashboard import minds, town
from agentville.dashboard.plain import LABEL_CHARS, md
from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.core import events


def show(log: RunLog, t: float) -> None:
    if not log.agents:
        st.info("No agents yet")
        return
    name = st.selectbox("Agent", log.agents, key="agent")
    persona = next((p for p in (log.scenario.personas if log.scenario else []) if p.name == name), None)
    state = town.agent_states(log, t).set_index("agent").loc[name]
    left, right = st.columns([1, 2])
    with left:
        st.subheader(f"{state['emoji']} {md(name)}")
        st.text(f"Now: {state['activity'] or '-'}\nWhere: {state['location'] or state['walking_to'] or '-'}")
        revised = upto(log.kind(events.IDENTITY), t)  # "currently" as the agent last revised it by t
        revised = revised[revised["agent"] == name]
        if persona is not None:
            currently = revised["data"].iloc[-1]["currently"] if len(revised) else persona.currently.strip()
            st.text(f"{persona.age}, {persona.traits}\n{persona.learned.strip()}\nCurrently: {currently}")
    with right:
        plan, revisions = minds.day_plan(log, name, t)
        if plan is None:
            st.info("No day plan yet")
        else:
            st.markdown(f"**Plan for {md(plan['date'])}** (woke at {md(plan['wake'][-5:])}, "
                        f"bed at {md(plan['bedtime'][-5:])})")
            st.text("\n".join(f"{i}. {s}" for i, s in enumerate(plan["strokes"], 1)))
            current = revisions[-1]["schedule"] if revisions else plan["schedule"]
            schedule = pd.DataFrame(current, columns=["start", "end", "activity"])  # as a day is read
            st.dataframe(schedule, hide_index=True, width="stretch")
            for revision in revisions:
                st.caption(f"Revised at {revision['time']:%H:%M}: {md(revision['reason'])}")
    memory_stream(log, name, t)
    reflections(log, name, t)


def memory_stream(log: RunLog, name: str, t: float) -> None:
    """The agent's memories by score, relevance to another memory when one is chosen."""
    stream = minds.memories(log, name, t)
    st.markdown(f"**Memory stream** — {len(stream)} memories")
    focus = st.selectbox("Score relevance to", ["(none)"] + list(stream["text"][::-1]), key="focus")
    if focus != "(none)":
        stream = minds.memories(log, name, t, focus=focus)
    columns = [c for c in ["time", "kind", "text", "importance", "recency", "relevance", "score", "depth"]
               if c in stream.columns]
    st.dataframe(stream.sort_values("score", ascending=False)[columns] if len(stream) else stream,
                 hide_index=True, width="stretch")


def reflections(log: RunLog, name: str, t: float) -> None:
    """The latest 20 insights, each opening on its evidence."""
    insights = minds.reflections(log, name, t)
    st.markdown(f"**Reflections** — {len(insights)} insights")
    for insight in insights[::-1][:20]:
        with st.expander(f"{insight['time']:%H:%M} {md(insight['text'], LABEL_CHARS)}"):
            cut = [insight["text"]] if len(insight["text"]) > LABEL_CHARS else []  # the label shows only its start
            st.text("\n".join(cut + [f"because: {e}" for e in insight["evidence_texts"]]))
