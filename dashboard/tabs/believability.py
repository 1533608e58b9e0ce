"""The Believability tab: the rubric measured from the log up to t, the shares of it over time, and the run's
latest evaluation (interview answers graded against the log) or the command that makes one.

The rubric is measured only while this tab is open (``app.ON_OPEN``) and each
cut once (``rubrics``); the evaluation is read from the store as it was kept.
"""

from __future__ import annotations

import math

import altair as alt
import streamlit as st

from agentville.dashboard import interviews, rubrics
from agentville.dashboard.plain import md
from agentville.dashboard.runlog import RunLog
from agentville.sim.analysis import believability
from agentville.sim.analysis.questions import CATEGORIES

WORST = 20  # answers listed to look at first
EVERYONE = "everyone"
FIGURE = st.column_config.NumberColumn(format="%.2f")


@st.cache_resource(show_spinner=False)
def held_rubrics() -> rubrics.Rubrics:
    """The rubric's cuts measured by this process, shared by its pages (a cut is measured once)."""
    return rubrics.Rubrics()


def show(log: RunLog, t: float) -> None:
    rubric_at(log, t)
    evaluation(log)


def rubric_at(log: RunLog, t: float) -> None:
    with st.spinner("Measuring the rubric from the log…"):
        measures = held_rubrics().at(log, t)
        over_time = held_rubrics().over_time(log, t)
    st.markdown(f"**Rubric** — measured from the log up to {log.at(t):%Y-%m-%d %H:%M}")
    st.dataframe(measures, hide_index=True, width="stretch", column_config={"value": FIGURE})
    st.caption("Counts and shares of logged facts, the same for the same log; a value of None has nothing to "
               "measure yet (no night in a morning's run, no conversation).")
    shares = list(measures.loc[measures["unit"] == rubrics.SHARE, "measure"])
    picked = st.multiselect("Shares over time", shares, default=[m for m in rubrics.CHARTED if m in shares],
                            key="rubric_measures")
    points = rubrics.charted(over_time, picked)
    if points.empty:
        st.caption("Nothing to draw: pick measures, or move on to a time they have values at.")
        return
    st.altair_chart(alt.Chart(points).mark_line(point=True).encode(
        x=alt.X("until:T", title="log measured up to (simulated time)"),
        y=alt.Y("value:Q", title="share", scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="bottom")),
        tooltip=["measure:N", alt.Tooltip("until:T", format="%a %H:%M"), alt.Tooltip("value:Q", format=".2f")]),
        width="stretch", height=280)


def evaluation(log: RunLog) -> None:
    st.markdown("**Interviews**")
    found = interviews.latest(log)
    if found is None:
        st.info("No evaluation of this run in its store yet. This command interviews its residents with questions "
                "whose answers the log knows, grades the answers and keeps them for this tab:")
        st.code(interviews.evaluate_command(log), language="shell")
        return
    answers, made = found.answers, found.created_at.replace("T", " ")
    st.caption(f"{len(answers)} questions to the residents as they were at {found.at:%Y-%m-%d %H:%M}, answered "
               f"by {md(found.model)} (question seed {found.seed}), evaluated {md(made)}.")
    cols = st.columns(2)
    residents = [EVERYONE, *sorted(answers["agent"].dropna().unique())]
    agent = cols[0].selectbox("Resident", residents, key="interview_agent")
    asked = [believability.ALL, *(c for c in CATEGORIES if (answers["category"] == c).any())]
    category = cols[1].selectbox("Category", asked, key="interview_category")
    theirs = interviews.chosen(answers, believability.ALL if agent == EVERYONE else agent)
    scores = believability.categories(theirs)
    st.dataframe(scores, hide_index=True, width="stretch", column_config={"score": FIGURE})
    if found.judged:
        st.caption("By the model judge's grades:")
        st.dataframe(believability.categories(theirs, interviews.JUDGE), hide_index=True, width="stretch",
                     column_config={"score": FIGURE})
    picked = interviews.chosen(theirs, category=category)
    made_up = picked[picked["hallucinations"].map(bool)]
    rate = believability.hallucination_rate(picked)
    st.metric("Answers with made-up names", "n/a" if math.isnan(rate) else f"{rate:.0%}",
              help="naming a person or place the town does not have, or one the resident never knew by then")
    if len(made_up):
        st.dataframe(interviews.shown(made_up), hide_index=True, width="stretch")
    st.caption(f"The answers to look at first (at most {WORST}): made-up names, then wrong, does-not-know and "
               "partly; each beside the answer the log knows (expected) and what of it the answer found, missed "
               "or got wrong.")
    st.dataframe(interviews.shown(believability.worst(picked, WORST)), hide_index=True, width="stretch")
