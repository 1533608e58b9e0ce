"""The Conversations tab: every conversation started by t, newest first, with its lines so far (the 50 newest
shown), searchable by words or names; ongoing ones are open."""

from __future__ import annotations

import streamlit as st

from agentville.dashboard import interactions
from agentville.dashboard.plain import LABEL_CHARS, md
from agentville.dashboard.runlog import RunLog


def show(log: RunLog, t: float) -> None:
    search = st.text_input("Search conversations (words or names)", key="search")
    talks = interactions.conversations(log, t, search)
    st.caption(f"{len(talks)} conversations")
    for talk in talks[:50]:
        title = md(f"{' & '.join(talk['people'])} · {talk['location']}", LABEL_CHARS)
        with st.expander(f"{talk['time']:%a %H:%M} · {title}" + (" · ongoing" if talk["ongoing"] else ""),
                         expanded=talk["ongoing"]):
            st.text("\n".join(f"{when:%H:%M} {who}: {text}" for when, who, text in talk["lines"]))
            if talk["summary"]:
                st.caption(f"Summary: {md(talk['summary'])}")
