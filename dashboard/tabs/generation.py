"""The Generation tab: the model calls up to t, per purpose and per simulated hour, how long they took and how
early they were asked, how many were in flight at once, and how far areas of the town ran ahead."""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from agentville.dashboard import calls, charts
from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.core import events

PREDATES = "This run predates these measurements: its model calls carry no {}."


def show(log: RunLog, t: float) -> None:
    from agentville.sim.analysis.stats import ANSWER_KINDS, llm_stats

    answers = upto(log.kind(*ANSWER_KINDS), t)  # the calls, and what the parsers made of their answers
    if not (answers["kind"] == events.LLM_CALL).any():
        st.info("No model calls yet")
        return
    stats = llm_stats(answers)
    unmeasured = [column for column in stats.columns if stats[column].isna().all()]  # else a column of "None"
    st.dataframe(stats.drop(columns=unmeasured), width="stretch", column_config=number_formats(stats))
    if unmeasured:
        st.caption(f"Not measured in this run: {', '.join(unmeasured)} (the backend reports no timings, or no "
                   "call reached the model)")
    per_call = calls.generation_calls(log, t)
    hourly = per_call.groupby(["hour", "purpose"]).size().rename("calls").reset_index()
    st.altair_chart(alt.Chart(hourly).mark_bar().encode(
        x=alt.X("hour:T", title="simulated hour"), y="calls:Q", color="purpose:N",
        tooltip=["purpose", "calls", alt.Tooltip("hour:T", format="%H:%M")]), width="stretch", height=260)
    purposes = alt.Y("purpose:N", title=None, axis=alt.Axis(labelOverlap=False))  # every purpose named
    rows = max(160, 30 * per_call["purpose"].nunique())
    timed = per_call.dropna(subset=["latency_s"])
    timed = timed[~timed["cache_hit"]]
    if len(timed):  # many calls: box plots of each purpose's quantiles (a chart takes 5,000 rows)
        st.altair_chart(alt.Chart(charts.sketch(timed, "latency_s", "purpose")).mark_boxplot().encode(
            x=alt.X("latency_s:Q", title="latency (s)"), y=purposes).properties(height=rows), width="stretch")
    st.caption("How early each request was asked, in simulated seconds before its answer was needed "
               "(its due time): the longer, the more requests the workers can batch together.")
    st.altair_chart(alt.Chart(charts.sketch(per_call, "lead_s", "purpose")).mark_boxplot().encode(
        x=alt.X("lead_s:Q", title="asked ahead of need (simulated s)"), y=purposes).properties(height=rows),
        width="stretch")
    in_flight(per_call)
    ahead_of_slowest(per_call)


def number_formats(table: pd.DataFrame) -> dict[str, Any]:
    """Readable numbers: shares and rates to a tenth, milliseconds whole, counts as they are."""
    return {column: st.column_config.NumberColumn(format="%.0f" if column.endswith("_ms") else "%.1f")
            for column in table.columns if pd.api.types.is_float_dtype(table[column])}


def in_flight(per_call: pd.DataFrame) -> None:
    busy = calls.requests_in_flight(per_call)
    if busy.empty:
        st.caption(PREDATES.format("submission times, so requests in flight are not shown"))
        return
    st.caption(f"Requests in flight over wall time (at most {busy['in_flight'].max()}): how well the shared "
               "workers are kept busy. Dips towards 0 are workers waiting for the simulation to ask.")
    steps = charts.thin_steps(busy, "wall_s", "in_flight")
    st.altair_chart(alt.Chart(steps).mark_line(interpolate="step-after").encode(
        x=alt.X("wall_s:Q", title="wall seconds since generation started"),
        y=alt.Y("in_flight:Q", title="requests in flight", axis=alt.Axis(tickMinStep=1)),
        tooltip=[alt.Tooltip("wall_s:Q", format=".2f"), "in_flight"]), width="stretch", height=220)


def ahead_of_slowest(per_call: pd.DataFrame) -> None:
    ahead = calls.ahead_by_hour(per_call)
    if ahead.empty:
        st.caption(PREDATES.format("cluster leads, so how far ahead of the slowest cluster is not shown"))
        return
    st.caption("How far ahead of the slowest cluster the asking agents were, per simulated hour: scheduled out "
               "of order, areas of the town run ahead of the slowest one; runs scheduled in order show 0.")
    shown = ahead.rename(columns={"mean_min": "mean", "max_min": "max"})
    st.altair_chart(alt.Chart(shown).transform_fold(["mean", "max"], as_=["statistic", "minutes"]).mark_line(
        point=True).encode(
        x=alt.X("hour:T", title="simulated hour asked"),
        y=alt.Y("minutes:Q", title="ahead of the slowest cluster (simulated min)"),
        color=alt.Color("statistic:N", title=None, sort=["mean", "max"]),
        tooltip=[alt.Tooltip("hour:T", format="%H:%M"), "statistic:N", alt.Tooltip("minutes:Q", format=".1f"),
                 "calls"]), width="stretch", height=220)
