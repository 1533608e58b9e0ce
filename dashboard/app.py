"""Agentville dashboard: watch a run live, or replay a logged one.

Start it with ``agentville dashboard [DB]``. It reads the event store
read-only and rebuilds every view from the events logged up to the chosen
simulated time; while a run is writing, the page follows it by itself.

Text from the run (names, memories, lines, plans, the scenario's name, paths)
is shown as text, never as Markdown: it enters Markdown elements (titles,
captions, alerts, expander labels) only through ``plain.md``, and is otherwise
shown in elements that take it as it is (st.text, st.dataframe, selectboxes).

This module is the shell: which store and run, the simulated time, and the
tabs, each a module of ``tabs`` that draws itself (``show(log, t)``).
Importing it does nothing; Streamlit runs it as a script, which calls ``main``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from agentville.dashboard import runlog, stores
from agentville.dashboard.plain import LABEL_CHARS, md
from agentville.dashboard.runlog import RunLog
from agentville.dashboard.tabs import (
    believability,
    conversations,
    diffusion,
    generation,
    inspector,
    relationships,
    timeline,
    town_map,
)

REFRESH_S = 1.0  # how often a live page reads what the run logged since
LAZY_TABS_FROM = 40_000  # events: from here only the open tab computes (a 25-agent day logs ~18,000)
TABS: dict[str, Callable[[RunLog, float], None]] = {
    "Town map": town_map.show, "Agents": inspector.show, "Conversations": conversations.show,
    "Timeline": timeline.show, "Relationships": relationships.show, "Diffusion": diffusion.show,
    "Generation": generation.show, "Believability": believability.show}
ON_OPEN = {"Believability"}  # measured from the whole log up to t (seconds in a big town): only while open


NOT_A_STORE = ("?db= names no store of this dashboard: it opens a store of its runs folder by file name, "
               "as its first page (the address without ?db=) lists them")


class NotServed(Exception):
    """What the page will not show, said in its one line: a ?db= it does not follow, a store it cannot read."""


def started_on() -> str | None:
    """The store the server was started on: named on its command line (after ``--``) or in $AGENTVILLE_DB."""
    ours = Path(sys.argv[0]).name == Path(__file__).name  # under `streamlit run`, not inside another program
    args = [a for a in sys.argv[1:] if not a.startswith("-")] if ours else []
    return (args[0] if args else None) or os.environ.get("AGENTVILLE_DB")


def runs_folder() -> Path:
    return Path(os.environ.get("AGENTVILLE_RUNS_DIR", "runs"))


def chosen_store() -> Path | None:
    """The store to show, decided by how the server was started, never by the URL: the store it was started on,
    else the store of its runs folder that ?db= names by file name; None when ?db= names none (the page lists
    them). Any other ?db= raises ``NotServed``, with one line for every value (whether a path exists is not told).
    """
    asked = st.query_params.get_all("db")
    start = started_on()
    if start:
        if asked:
            raise NotServed(f"This dashboard serves {Path(start).name} only: open it without ?db=")
        return Path(start)
    if not asked:
        return None
    found = stores.store_named(runs_folder(), asked[0]) if len(asked) == 1 else None
    if found is None:
        raise NotServed(NOT_A_STORE)
    return found


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
    st.set_option("client.showErrorDetails", "none")  # a failure's type, message and traceback: server log only
    try:
        path = chosen_store()
        if path is None:
            pick_a_store(runs_folder())
        else:
            show_store(path)
    except NotServed as refusal:
        st.error(md(str(refusal)))


def show_store(path: Path) -> None:
    """The runs of the store at ``path``: one chosen in the sidebar, drawn by ``page`` (live: again and again)."""
    try:
        with runlog.open_store(path) as store:
            runs = store.runs()
        if not runs:
            st.warning(f"{md(path.name)} holds no runs yet")
            return
        with st.sidebar:
            st.title("🏘️ Agentville")
            labels = {r["run_id"]: f"{r['scenario']} · {r['run_id']} · {r['status']}" for r in runs}
            run_id = st.selectbox("Run", list(labels), format_func=lambda run: labels[run], key="run")
        if run_id is None:  # never: the list of runs is not empty
            return
        first = cached_run(str(path), run_id, stores.run_signature(path, run_id))
    except stores.PROBLEMS as exc:
        raise NotServed(stores.problem(path, exc)) from None
    refresh = REFRESH_S if first.live or st.session_state.get("playing") else None
    st.fragment(run_every=refresh)(page)(str(path), run_id)


def pick_a_store(folder: Path) -> None:
    """The stores of the runs folder, listed by file name (not the server's folders); the one picked opens by name."""
    st.title("🏘️ Agentville")
    found = stores.find_stores(folder)
    if found.empty:
        st.info(f"No event stores in {md(folder.name)}/. Run one: `agentville run worlds/the_ville_3.yaml --llm fake`, "
                "then `agentville dashboard runs/the_ville_3.db`.")
        return
    st.subheader(f"Runs found in {md(folder.name)}/")
    st.dataframe(found, hide_index=True, width="stretch")
    db = st.selectbox("Open", sorted(found["db"].unique()))
    if st.button("Open this store"):
        st.query_params["db"] = db
        st.rerun()


def page(path: str, run_id: str) -> None:
    try:
        log = cached_run(path, run_id, stores.run_signature(path, run_id))
    except stores.PROBLEMS as exc:  # deleted, overwritten or locked since the page was drawn
        st.error(md(stores.problem(path, exc)))
        return
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
    # A big log computes only the open tab; a small one computes them all but those of ON_OPEN, so the others show
    # at once when opened. Opening a tab reruns the page: a tab of ON_OPEN computes then, and only while open.
    lazy = log.through > LAZY_TABS_FROM
    tabs = st.tabs(list(TABS), key="view", on_change="rerun")
    for tab, (name, show) in zip(tabs, TABS.items()):
        if (lazy or name in ON_OPEN) and not tab.open:
            continue
        with tab:
            try:
                show(log, t)
            except stores.PROBLEMS as exc:  # a damaged store: the line naming the event, not a traceback
                st.error(md(stores.problem(path, exc)))


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


if __name__ == "__main__":  # as Streamlit runs the file (``streamlit run``, and AppTest): never on import
    main()
