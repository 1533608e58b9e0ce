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
from agentville.dashboard.tabs import conversations, diffusion, generation, inspector, relationships, timeline, town_map
from agentville.sim.core.errors import UserError

REFRESH_S = 1.0  # how often a live page reads what the run logged since
LAZY_TABS_FROM = 40_000  # events: from here only the open tab computes (a 25-agent day logs ~18,000)
TABS: dict[str, Callable[[RunLog, float], None]] = {
    "Town map": town_map.show, "Agents": inspector.show, "Conversations": conversations.show,
    "Timeline": timeline.show, "Relationships": relationships.show, "Diffusion": diffusion.show,
    "Generation": generation.show}


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
    # A big log computes only the open tab (opening another reruns the page); a small one computes them all, so
    # switching tabs is instant.
    lazy = log.through > LAZY_TABS_FROM
    tabs = st.tabs(list(TABS), key="view", on_change="rerun") if lazy else st.tabs(list(TABS))
    for tab, show in zip(tabs, TABS.values()):
        if lazy and not tab.open:
            continue
        with tab:
            try:
                show(log, t)
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


if __name__ == "__main__":  # as Streamlit runs the file (``streamlit run``, and AppTest): never on import
    main()
