"""Agentville dashboard: watch a run live, or replay a logged one.

Start it with ``agentville dashboard [DB]``. It reads the event store
read-only and rebuilds every view from the events logged up to the chosen
simulated time; while a run is writing, the page follows it by itself.

Text from the run (names, memories, lines, plans, the scenario's name, paths)
is shown as text, never as Markdown: it enters Markdown elements (titles,
captions, alerts, expander labels) only through ``plain.md``, and is otherwise
shown in elements that take it as it is (st.text, st.dataframe, selectboxes).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd
import streamlit as st

from agentville.dashboard import calls, charts, diffusion, interactions, minds, relations, runlog, stores, town, townmap
from agentville.dashboard.plain import LABEL_CHARS, md
from agentville.dashboard.runlog import RunLog, upto
from agentville.sim.analysis import provenance
from agentville.sim.core import events
from agentville.sim.core.errors import UserError

REFRESH_S = 1.0  # how often a live page reads what the run logged since
LAZY_TABS_FROM = 40_000  # events: from here only the open tab computes (a 25-agent day logs ~18,000)


def chosen_store() -> str | None:
    """The DB named on the command line (after ``--``), in $AGENTVILLE_DB, or in the URL (?db=)."""
    ours = Path(sys.argv[0]).name == Path(__file__).name  # under `streamlit run`, not inside another program
    args = [a for a in sys.argv[1:] if not a.startswith("-")] if ours else []
    return st.query_params.get("db") or (args[0] if args else None) or os.environ.get("AGENTVILLE_DB")


def is_file(path: str) -> bool:
    """Whether ``path`` names a file; a name the file system refuses (too long) names none."""
    try:
        return Path(path).is_file()
    except OSError:
        return False


@st.cache_resource(show_spinner=False)
def held_logs() -> runlog.Logs:
    """The logs this process shows, shared by its pages (never copied: views treat them as read-only)."""
    return runlog.Logs(stores.load_run)


def cached_run(path: str, run_id: str, signature: tuple) -> RunLog:
    """The run's log: read once, then grown by only the events logged since whenever its signature
    (events logged, progress, status) changes."""
    return held_logs().get(path, run_id, signature)


def main() -> None:
    st.set_page_config(page_title="Agentville", page_icon="🏘️", layout="wide")
    path = chosen_store()
    if not path:
        pick_a_store(Path(os.environ.get("AGENTVILLE_RUNS_DIR", "runs")))
        return
    if not is_file(path):
        st.error(f"No event store at {md(path)}")
        return
    with runlog.open_store(path) as store:
        runs = store.runs()
    if not runs:
        st.warning(f"{md(path)} holds no runs yet")
        return
    with st.sidebar:
        st.title("🏘️ Agentville")
        labels = {r["run_id"]: f"{r['scenario']} · {r['run_id']} · {r['status']}" for r in runs}
        run_id = st.selectbox("Run", list(labels), format_func=lambda run: labels[run], key="run")
    if run_id is None:  # never: the list of runs is not empty
        return
    first = cached_run(path, run_id, stores.run_signature(path, run_id))
    refresh = REFRESH_S if first.live or st.session_state.get("playing") else None
    st.fragment(run_every=refresh)(page)(path, run_id)


def pick_a_store(folder: Path) -> None:
    st.title("🏘️ Agentville")
    found = stores.find_stores(folder)
    if found.empty:
        st.info(f"No event stores in {md(folder)}/. Run one: `agentville run worlds/the_ville_3.yaml --llm fake`, "
                "then `agentville dashboard runs/the_ville_3.db`.")
        return
    st.subheader(f"Runs found in {md(folder)}/")
    st.dataframe(found, hide_index=True, width="stretch")
    db = st.selectbox("Open", sorted(found["db"].unique()))
    if st.button("Open this store"):
        st.query_params["db"] = db
        st.rerun()


def page(path: str, run_id: str) -> None:
    log = cached_run(path, run_id, stores.run_signature(path, run_id))
    t = choose_time(log)
    status = "🟢 live" if log.live else log.run["status"]
    st.markdown(f"#### {md(log.run['scenario'], LABEL_CHARS)} — {md(status)}")
    if log.scenario_warning:
        st.warning(md(log.scenario_warning))
    cols = st.columns([2, 1, 1, 1])
    cols[0].markdown(f"**Simulated time: {log.at(t):%Y-%m-%d %H:%M}**")
    cols[1].metric("Agents", len(log.agents))
    cols[2].metric("Events so far", log.count_upto(t))
    cols[3].metric("Progress", f"{100 * log.reached / log.end:.0f}%" if log.end else "-")
    views = {"Town map": town_map, "Agents": inspector, "Conversations": conversation_feed, "Timeline": timeline,
             "Relationships": relationships, "Diffusion": spread_of_a_fact, "Generation": generation}
    # A big log computes only the open tab (opening another reruns the page); a small one computes them all, so
    # switching tabs is instant.
    lazy = log.through > LAZY_TABS_FROM
    tabs = st.tabs(list(views), key="view", on_change="rerun") if lazy else st.tabs(list(views))
    for tab, view in zip(tabs, views.values()):
        if lazy and not tab.open:
            continue
        with tab:
            try:
                view(log, t)
            except UserError as exc:  # a damaged store: the line naming the event, not a traceback
                st.error(md(str(exc)))


def choose_time(log: RunLog) -> float:
    """The simulated time every view shows: the newest while following a live run, else the slider's.

    Play advances the slider by the chosen speed on every refresh of the
    fragment; the controls live inside the fragment (fragments may not write
    to the sidebar), and starting or stopping play reruns the whole app so the
    fragment's refresh interval follows.
    """
    end = max(log.reached, 60.0) / 60
    state = st.session_state
    controls = st.columns([1, 1, 2, 4])
    follow = controls[0].toggle("Follow", value=log.live, key="follow", disabled=not log.live,
                                help="show the newest simulated time of a running simulation")
    following = follow and log.live
    playing = controls[1].toggle("▶ Play", key="playing", disabled=following)
    speed = controls[2].select_slider("Speed (sim min/s)", [1, 5, 15, 30, 60, 120], value=15, key="speed")
    if playing != state.get("was_playing", False):
        state["was_playing"] = playing
        st.rerun(scope="app")
    minute = state.get("minute", end)
    if following:
        minute = end
    elif playing:
        minute = minute + speed * REFRESH_S
    state["minute"] = min(max(0.0, float(minute)), end)
    minute = controls[3].slider("Simulated time (minutes from the start)", 0.0, end, step=1.0, key="minute",
                                format="%d min", disabled=following)
    return minute * 60


def town_map(log: RunLog, t: float) -> None:
    townmap.show(log, t)


def inspector(log: RunLog, t: float) -> None:
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
    stream = minds.memories(log, name, t)
    st.markdown(f"**Memory stream** — {len(stream)} memories")
    focus = st.selectbox("Score relevance to", ["(none)"] + list(stream["text"][::-1]), key="focus")
    if focus != "(none)":
        stream = minds.memories(log, name, t, focus=focus)
    columns = [c for c in ["time", "kind", "text", "importance", "recency", "relevance", "score", "depth"]
               if c in stream.columns]
    st.dataframe(stream.sort_values("score", ascending=False)[columns] if len(stream) else stream,
                 hide_index=True, width="stretch")
    insights = minds.reflections(log, name, t)
    st.markdown(f"**Reflections** — {len(insights)} insights")
    for insight in insights[::-1][:20]:
        with st.expander(f"{insight['time']:%H:%M} {md(insight['text'], LABEL_CHARS)}"):
            cut = [insight["text"]] if len(insight["text"]) > LABEL_CHARS else []  # the label shows only its start
            st.text("\n".join(cut + [f"because: {e}" for e in insight["evidence_texts"]]))


def conversation_feed(log: RunLog, t: float) -> None:
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


TIMELINE_HOURS = {"whole run": None, "last 12 h": 12.0, "last 4 h": 4.0, "last hour": 1.0}


def timeline(log: RunLog, t: float) -> None:
    window = st.segmented_control("Window", list(TIMELINE_HOURS), default="whole run", key="timeline_window")
    bars = charts.timeline(log, t, hours=TIMELINE_HOURS.get(window or "whole run"))
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
        color=alt.Color("place:N", scale=townmap.place_scale(town.place_layout(log)["place"], bars["place"]),
                        legend=alt.Legend(orient="bottom", columns=3, symbolLimit=48, labelLimit=280)),
        tooltip=["agent", "activity", "place", alt.Tooltip("start:T", format="%H:%M"),
                 alt.Tooltip("end:T", format="%H:%M")],
    ).properties(height=alt.Step(24))  # one 24-pixel row per agent
    st.altair_chart(chart, width="stretch")


def relationships(log: RunLog, t: float) -> None:
    relations.show(log, t)


def spread_of_a_fact(log: RunLog, t: float) -> None:
    """Who knew a fact by t and from whom they heard it (the paper's diffusion study, told as a tree)."""
    typed = st.text_input("Keywords of a fact (comma separated)", key="keywords",
                          placeholder="e.g. Valentine, party",
                          help="an agent knows the fact from its first memory that names one of them (whole words; "
                               "plurals and possessives count), or from the start when its persona names one")
    keywords = provenance.split_keywords(typed)
    if not keywords:
        st.info("Type the keywords of a fact to see who knew it by this time, and from whom they heard it")
        return
    spread = diffusion.spread(log, t, keywords)
    cols = st.columns([1, 3])
    cols[0].metric("Residents who know it", f"{spread.knowing} of {len(spread.residents)} ({spread.share:.0%})")
    if spread.table.empty:
        cols[1].info("Nobody knows it yet: no memory or persona names these keywords")
        return
    cols[1].caption("When each resident first knew it: a line runs from whoever told it, along the teller's row, "
                    "to the listener; the colour says how each came to know it (at the start, in a conversation, "
                    "or by itself).")
    points, links = diffusion.chart_points(spread.table), diffusion.chart_links(spread.table)
    x = alt.X("time:T", title="first knew (simulated time)")
    y = alt.Y("agent:N", title=None, sort=list(points["agent"]), axis=alt.Axis(labelOverlap=False))
    tellings = alt.Chart(links).mark_line(color="#9a9a9a").encode(x=x, y=y, detail="link:N", order="step:Q")
    colours = alt.Scale(domain=list(diffusion.COLOURS), range=list(diffusion.COLOURS.values()))
    knowers = alt.Chart(points).mark_circle(size=140, opacity=1).encode(
        x=x, y=y, color=alt.Color("how:N", scale=colours, legend=alt.Legend(orient="bottom")),
        tooltip=["agent:N", "how:N", "source:N", "place:N", alt.Tooltip("time:T", format="%a %H:%M"), "text:N"])
    st.altair_chart((tellings + knowers).properties(height=alt.Step(24)), width="stretch")
    st.code(provenance.tree_text(spread.table), language=None)  # monospaced: the branches line up
    st.dataframe(diffusion.shown_table(spread.table), hide_index=True, width="stretch")


def generation(log: RunLog, t: float) -> None:
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


PREDATES = "This run predates these measurements: its model calls carry no {}."


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


main()
