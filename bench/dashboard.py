"""Dashboard speed on the log of a fake-backend game day: 25 agents, or a town grown to N residents.

Usage: python bench/dashboard.py [--db PATH] [--agents N] [--hours H]
Without --db, Smallville is run first (~5 s). ``--agents N`` grows its town
to N residents as bench/engine.py does and runs a day of it (H hours) into
--db PATH, or reuses PATH when it already holds a run (a 1,000-resident day
takes minutes to simulate: keep it under /tmp).

Prints, per view, the time to compute what it shows at the end of the day and
at a slider position (data rebuilt from events + chart spec built), then the
whole page through Streamlit's AppTest: first render (log load and every tab a
page computes: all of them for a small log, the open one for a big log, see
``app.LAZY_TABS_FROM``), a rerun, a slider move, opening each other tab, and
live refreshes: a copy holding the first half of the log is shown as a running
run, the next 10,000 events are written into it (as the run's writer would,
about a second of the engine's work), and the rerun that shows them is timed. Targets on a 1,000-resident day: first
render <= 3 s, live refresh <= 1 s, slider move <= 1 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import altair as alt

from agentville.dashboard import calls, charts, interactions, minds, runlog, stores, town
from agentville.dashboard.tabs import relationships
from agentville.sim.core import events

ROOT = Path(__file__).resolve().parent.parent
LIVE_EVENTS = 10_000
TABS = ["Agents", "Conversations", "Timeline", "Relationships", "Diffusion", "Generation"]


def views(log: runlog.RunLog, t: float) -> dict[str, callable]:
    agent = log.agents[0]

    def town_map():
        places = town.place_layout(log)
        agents = town.agent_positions(town.agent_states(log, t), places)
        return alt.Chart(agents).mark_circle().encode(x="x:Q", y="y:Q").to_dict()

    def inspector():
        minds.day_plan(log, agent, t)
        stream = minds.memories(log, agent, t)
        minds.memories(log, agent, t, focus=stream["text"].iloc[-1]) if len(stream) else None
        return minds.reflections(log, agent, t)

    def timeline():
        return alt.Chart(charts.timeline(log, t)).mark_bar().encode(x="start:T", x2="end:T", y="agent:N").to_dict()

    def generation():
        from agentville.sim.analysis.stats import llm_stats

        llm_stats(runlog.upto(log.kind(events.LLM_CALL), t))
        return calls.generation_calls(log, t)

    return {"town map": town_map, "agent inspector": inspector,
            "conversations": lambda: interactions.conversations(log, t), "timeline": timeline,
            "relationships": lambda: relationships.relationship_dot(interactions.relationships(log, t), log.agents),
            "generation stats": generation}


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def grown_day(db: Path, agents: int, hours: float) -> None:
    """A day of Smallville grown to ``agents`` residents (bench/engine.py's town), logged into ``db``."""
    from agentville.sim.generation import FakeBackend
    from agentville.sim.runtime.runner import assemble
    from agentville.sim.scenario import load_scenario
    from agentville.sim.scenario.growing import grown
    from agentville.sim.store.eventstore import EventStore

    scenario = grown(load_scenario(ROOT / "worlds" / "smallville.yaml"), agents)
    with EventStore(db) as store:
        sim = assemble(scenario, store=store, backend=FakeBackend(), cache_mode="off")
        took = timed(lambda: sim.run(scenario.start + dt.timedelta(hours=hours)))
    print(f"simulated {hours:g} h of {agents} residents into {db} in {took:.0f} s")


def live_copy(db: str, folder: Path) -> tuple[Path, int]:
    """A copy of ``db`` holding the first half of its events, its run reading as running (this process)."""
    copy = folder / "live.db"
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as target:
        (half,) = target.execute("SELECT MAX(seq) / 2 FROM events").fetchone()
        target.execute("DELETE FROM events WHERE seq > ?", (half,))
        target.execute("UPDATE runs SET status=?, pid=?, sim_reached=(SELECT MAX(sim_time) FROM events), "
                       "ended_at=NULL", (events.RUNNING, os.getpid()))
    return copy, half


def write_more(db: str, copy: Path, after: int, count: int) -> int:
    """Append the next ``count`` events to the copy in one transaction, as the run's writer does."""
    with sqlite3.connect(copy) as target:
        target.execute("ATTACH DATABASE ? AS full", (db,))
        added = target.execute("INSERT INTO events SELECT * FROM full.events WHERE seq > ? AND seq <= ?",
                               (after, after + count)).rowcount
        target.execute("UPDATE runs SET sim_reached=(SELECT MAX(sim_time) FROM events)")
    return added


def page_timings(db: str, folder: Path) -> None:
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    def app(path: str | Path) -> AppTest:
        st.cache_resource.clear()  # nothing read before: a first render
        os.environ["AGENTVILLE_DB"] = str(path)
        return AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)

    test = app(db)
    first = timed(test.run)
    warm = timed(test.run)
    move = timed(lambda: test.slider(key="minute").set_value(12 * 60.0).run())
    assert not test.exception, [e.value for e in test.exception]
    print(f"whole page (AppTest): first render {first:.2f} s (includes imports and the log load), "
          f"rerun {warm:.2f} s, slider move {move:.2f} s")
    if "view" in test.session_state:  # a big log: the tabs compute when opened
        opened = {}
        for tab in TABS:
            test.session_state["view"] = tab
            opened[tab] = timed(test.run)
            assert not test.exception, [e.value for e in test.exception]
        print("opening a tab (s): " + ", ".join(f"{tab} {s:.2f}" for tab, s in opened.items()))
    copy, half = live_copy(db, folder)
    test = app(copy)
    start = timed(test.run)
    refreshes = []
    for _ in range(3):  # a second's events at the engine's pace (bench/engine.py: ~10,000 events/s)
        added = write_more(db, copy, half, LIVE_EVENTS)
        half += added
        refreshes.append(f"{timed(test.run):.2f} s ({added:,} new events)")
        assert not test.exception, [e.value for e in test.exception]
    print(f"live run (half the log, followed): first render {start:.2f} s; refreshes after up to "
          f"{LIVE_EVENTS:,} more events were written: {', '.join(refreshes)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="an event store to measure (default: run Smallville for a day first)")
    parser.add_argument("--agents", type=int, help="grow the town to this many residents (into --db, or reuse it)")
    parser.add_argument("--hours", type=float, default=24.0, help="simulated hours of the grown town's day")
    args = parser.parse_args()
    folder = tempfile.TemporaryDirectory()
    db = args.db or str(Path(folder.name) / "smallville.db")
    if args.agents and not (args.db and Path(args.db).is_file()):
        grown_day(Path(db), args.agents, args.hours)
    elif not args.db:
        subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", "worlds/smallville.yaml", "--llm", "fake",
                        "--until", "+1d", "--db", db, "--no-progress"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    log = stores.load_run(db)
    load = timed(lambda: log.events)
    print(f"log: {len(log.events):,} events, {len(log.agents)} agents; reading every event takes {load:.2f} s "
          f"(the page reads only the kinds its views ask for)")
    print(f"{'view':<18} {'end of day s':>12} {'slider move s':>13}")
    for name, fn in views(log, log.reached).items():
        middle = views(log, log.reached / 2)[name]
        print(f"{name:<18} {timed(fn):>12.3f} {timed(middle):>13.3f}")
    page_timings(db, Path(folder.name))


if __name__ == "__main__":
    main()
