"""The dashboard at scale: the town index agrees with a scan of the log, live logs grow by their new events only,
charts never get more rows than they take, and the Mesa-style tables tell what the log tells."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from agentville.dashboard import charts, runlog, stores, town
from agentville.sim import agent_table, model_table
from agentville.sim.core import events
from agentville.sim.core.location import place_of
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, WORLDS

APP = str(ROOT / "dashboard" / "app.py")
TABS = ["Town map", "Agents", "Conversations", "Timeline", "Relationships", "Diffusion", "Generation"]


@pytest.fixture(scope="module")
def smallville_db(tmp_path_factory) -> Path:
    """A fake day of Smallville (25 agents, ~18,000 events)."""
    db = tmp_path_factory.mktemp("scale") / "smallville.db"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(WORLDS / "smallville.yaml"),
                           "--llm", "fake", "--until", "+1d", "--db", str(db), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return db


def scanned_states(log: runlog.RunLog, t: float) -> pd.DataFrame:
    """The town at t as the dashboard computed it before the index: a scan of every event up to t."""
    rows: dict[str, dict[str, Any]] = {
        name: {"agent": name, "place": None, "location": "", "activity": "", "since": None, "emoji": "🙂",
               "walking_to": None, "progress": 0.0} for name in log.agents}
    where = runlog.upto(log.kind(*events.WHERE_LOCATED), t).groupby("agent").tail(1)
    for row in where.itertuples():
        if row.agent in rows:
            location = row.data["location"]
            rows[row.agent].update(location=location, place=place_of(location))
    acts = runlog.upto(log.kind(events.ACTION), t).groupby("agent").tail(1)
    for row in acts.itertuples():
        if row.agent in rows:
            activity = row.data["activity"]
            rows[row.agent].update(activity=activity, since=log.at(row.sim_time), emoji=town.emoji_for(activity))
    moves = runlog.upto(log.kind(events.MOVE, events.ARRIVED), t).groupby("agent").tail(1)
    for row in moves.itertuples():
        if row.kind == events.MOVE and row.agent in rows:
            move: events.Move = row.data
            minutes = float(move.get("minutes") or 0) or 1.0
            rows[row.agent].update(walking_to=place_of(move["target"]), origin=place_of(move["origin"]),
                                   progress=min(1.0, (t - row.sim_time) / (minutes * 60)), emoji="🚶")
    return pd.DataFrame(list(rows.values()))


def moments(log: runlog.RunLog) -> list[float]:
    """Every 7 simulated minutes, and the exact time of every 40th move, arrival and action (ties at t)."""
    logged = log.kind(events.MOVE, events.ARRIVED, events.ACTION)["sim_time"].to_numpy()[::40]
    return sorted({*np.arange(0.0, log.reached + 1, 7 * 60.0), *logged, log.reached, -1.0})


def test_the_town_at_any_time_is_what_a_scan_of_the_log_finds(smallville_db):
    log = stores.load_run(smallville_db)
    walking = 0
    for t in moments(log):
        found, expected = town.agent_states(log, t), scanned_states(log, t)
        pd.testing.assert_frame_equal(found, expected, obj=f"the town at {t}")
        walking += int(found["walking_to"].notna().sum())
    assert walking > 0, "the comparison covers walkers"


def test_events_logged_out_of_time_order_still_give_the_latest_logged(tmp_path):
    rows = [(1, 0.0, events.RUN_STARTED, None, {"agents": ["Ann"]}, None),
            (2, 600.0, events.ACTION, "Ann", {"activity": "reading", "location": "Home: room"}, None),
            (3, 300.0, events.ACTION, "Ann", {"activity": "cooking", "location": "Home: room"}, None),  # late
            (4, 300.0, events.ACTION, "Ann", {"activity": "eating", "location": "Home: room"}, None)]
    frame = pd.DataFrame(rows, columns=runlog.COLUMNS)
    log = runlog.RunLog({"run_id": "r", "sim_start": "2023-02-13T07:00:00", "status": events.FINISHED}, frame, None)
    for t in (0.0, 300.0, 450.0, 600.0, 900.0):
        pd.testing.assert_frame_equal(town.agent_states(log, t), scanned_states(log, t))
    assert town.agent_states(log, 900.0)["activity"].iloc[0] == "eating"  # logged last, though not the latest time


# -- a live run: only what was logged since is read ------------------------------------------------------------
def cut_copy(db: Path, folder: Path, keep_until: float) -> Path:
    """A copy of ``db`` holding its events up to ``keep_until``, its run reading as running (this process)."""
    copy = folder / "live.db"
    with sqlite3.connect(db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    with sqlite3.connect(copy) as target:
        target.execute("DELETE FROM events WHERE sim_time > ?", (keep_until,))
        target.execute("UPDATE runs SET status=?, pid=?, sim_reached=?", (events.RUNNING, os.getpid(), keep_until))
    return copy


def write_more(db: Path, copy: Path, until: float) -> None:
    with sqlite3.connect(copy) as target:
        target.execute("ATTACH DATABASE ? AS full", (str(db),))
        target.execute("INSERT INTO events SELECT * FROM full.events WHERE sim_time > "
                       "(SELECT MAX(sim_time) FROM events) AND sim_time <= ?", (until,))
        target.execute("UPDATE runs SET sim_reached=?", (until,))


def test_a_live_log_grows_by_reading_only_the_new_events(smallville_db, tmp_path, monkeypatch):
    copy = cut_copy(smallville_db, tmp_path, 6 * 3600.0)
    logs = runlog.Logs(stores.load_run)
    signature = stores.run_signature(copy)
    log = logs.get(str(copy), signature[0], signature)
    assert logs.get(str(copy), signature[0], signature) is log  # nothing new: the same log
    early = town.agent_states(log, log.reached)  # the town index is built
    assert len(log.kind(events.ACTION)) and log.live
    reads: list[dict] = []
    real = EventStore.event_rows
    monkeypatch.setattr(EventStore, "event_rows", lambda self, run_id, **how: reads.append(how) or real(
        self, run_id, **how))
    write_more(smallville_db, copy, 9 * 3600.0)
    grown = logs.get(str(copy), signature[0], stores.run_signature(copy))
    assert [r.get("after") for r in reads] == [log.through] and grown.through > log.through
    fresh = stores.load_run(copy)
    monkeypatch.undo()
    assert grown.reached == fresh.reached == 9 * 3600.0
    for kind in (events.ACTION, events.UTTERANCE):
        pd.testing.assert_frame_equal(grown.kind(kind), fresh.kind(kind))
    for t in (log.reached, 7.5 * 3600.0, grown.reached):
        pd.testing.assert_frame_equal(town.agent_states(grown, t), town.agent_states(fresh, t))
    pd.testing.assert_frame_equal(town.agent_states(grown, log.reached), early)
    assert grown.count_upto(grown.reached) == fresh.count_upto(fresh.reached) == len(fresh.events)


def test_a_store_read_again_when_its_run_is_not_the_one_held(smallville_db, tmp_path):
    logs = runlog.Logs(stores.load_run)
    signature = stores.run_signature(smallville_db)
    log = logs.get(str(smallville_db), signature[0], signature)
    fewer = (signature[0], signature[1] - 10, *signature[2:])  # a store rewritten with fewer events: read anew
    assert logs.get(str(smallville_db), signature[0], fewer) is not log


# -- what charts draw -------------------------------------------------------------------------------------------
def action_log(agents: int, actions: int) -> runlog.RunLog:
    """``agents`` agents each starting ``actions`` actions, one a minute."""
    names = [f"Agent {i}" for i in range(agents)]
    rows = [(1, 0.0, events.RUN_STARTED, None, {"agents": names}, None)]
    for k in range(actions):
        for i, name in enumerate(names):
            rows.append((len(rows) + 1, 60.0 * k, events.ACTION, name,
                         {"activity": f"task {k}", "location": f"Place {i % 7}: room", "description": ""}, None))
    frame = pd.DataFrame(rows, columns=runlog.COLUMNS)
    return runlog.RunLog({"run_id": "r", "sim_start": "2023-02-13T07:00:00", "status": events.FINISHED}, frame, None)


def test_the_timeline_draws_at_most_the_latest_bars_a_chart_takes():
    log = action_log(agents=60, actions=100)  # 6,000 bars
    t = log.reached
    bars = charts.timeline(log, t)
    assert len(bars) < charts.MAX_BARS and len(bars) > charts.MAX_BARS - 60
    assert bars["end"].max() == log.at(t) and "shrunk_to" in bars.attrs
    assert (bars["start"] >= bars.attrs["shrunk_to"]).all()  # bars begun earlier are cut at the window's start
    everything = charts.timeline(log, t, max_bars=10_000)
    assert len(everything) == 6000 and "shrunk_to" not in everything.attrs
    hour = charts.timeline(log, t, hours=1.0)
    assert len(hour) == 60 * 61 and hour["start"].min() == log.at(t - 3600)  # 60 whole minutes and the one cut


def test_box_plot_sketches_keep_each_groups_quartiles():
    rng = np.random.default_rng(1)
    calls = pd.DataFrame({"purpose": np.repeat(["a", "b"], 20_000), "latency_s": rng.exponential(1.0, 40_000)})
    drawn = charts.sketch(calls, "latency_s", "purpose")
    assert len(drawn) <= charts.MAX_BARS and set(drawn["purpose"]) == {"a", "b"}
    for purpose in ("a", "b"):
        full, sketched = (f[f["purpose"] == purpose]["latency_s"] for f in (calls, drawn))
        np.testing.assert_allclose(sketched.quantile([0, 0.25, 0.5, 0.75, 1]), full.quantile([0, 0.25, 0.5, 0.75, 1]),
                                   rtol=0.01)
    assert charts.sketch(calls.head(100), "latency_s", "purpose").equals(calls.head(100))


def test_a_thinned_step_curve_keeps_its_peaks():
    steps = pd.DataFrame({"wall_s": np.arange(20_000) / 10, "in_flight": np.arange(20_000) % 17})
    thinned = charts.thin_steps(steps, "wall_s", "in_flight", limit=1000)
    assert len(thinned) <= 1000 and thinned["in_flight"].max() == 16
    assert thinned["wall_s"].is_monotonic_increasing


@pytest.fixture(scope="module")
def three_days_db(smallville_db, tmp_path_factory) -> Path:
    """Smallville's day logged three times over as one run: > 5,000 actions and model calls, ~55,000 events."""
    db = tmp_path_factory.mktemp("days") / "three_days.db"
    with sqlite3.connect(smallville_db) as source, sqlite3.connect(db) as target:
        source.backup(target)
    with sqlite3.connect(db) as target:
        (count,) = target.execute("SELECT COUNT(*) FROM events").fetchone()
        for day in (1, 2):
            target.execute("INSERT INTO events SELECT run_id, seq + ?, sim_time + ?, kind, agent, data, wall "
                           "FROM events WHERE seq <= ? AND kind != ?",
                           (day * count, day * 86400.0, count, events.RUN_STARTED))
        target.execute("UPDATE runs SET sim_until=NULL, sim_reached=sim_reached + 2 * 86400")
    return db


def chart_rows(test: AppTest) -> list[int]:
    """The rows of data each chart on the page was sent (every dataset of every Vega-Lite chart)."""
    return [pa.ipc.open_stream(d.data.data).read_all().num_rows
            for chart in test.get("vega_lite_chart") for d in chart.proto.datasets]


def test_every_tab_of_a_big_log_renders_and_no_chart_gets_more_rows_than_it_takes(three_days_db, monkeypatch):
    log = stores.load_run(three_days_db)
    assert len(log.kind(events.ACTION)) > charts.MAX_BARS and len(log.kind(events.LLM_CALL)) > charts.MAX_BARS
    monkeypatch.setenv("AGENTVILLE_DB", str(three_days_db))
    test = AppTest.from_file(APP, default_timeout=120)
    test.run()
    assert not test.exception, [e.value for e in test.exception]
    assert test.session_state["view"] == "Town map"  # a big log: only the open tab computes
    assert any("Simulated time" in m.value for m in test.markdown)
    drawn = {}
    for tab in TABS:
        test.session_state["view"] = tab
        test.run()
        assert not test.exception, (tab, [e.value for e in test.exception])
        drawn[tab] = chart_rows(test)
        assert max(drawn[tab], default=0) <= charts.MAX_BARS, (tab, drawn[tab])
    assert len(drawn["Generation"]) >= 4 and drawn["Timeline"]  # the charts are there, with their rows
    test.session_state["view"] = "Timeline"
    test.run()
    assert any(c.value.startswith("The latest ") and "actions, from" in c.value for c in test.caption)
    test.session_state["view"] = "Diffusion"
    test.run()
    test.text_input(key="keywords").input("party").run()
    assert not test.exception, [e.value for e in test.exception]


# -- the Mesa-style tables ----------------------------------------------------------------------------------------
def test_the_agent_table_is_the_dashboards_town_at_every_step(smallville_db):
    table = agent_table(smallville_db, every="30min")
    log = stores.load_run(smallville_db)
    steps = np.arange(0.0, log.reached + 1, 1800.0)
    assert list(table.columns) == ["run_id", "time", "sim_time", "agent", "place", "location", "activity",
                                   "walking_to"]
    assert len(table) == len(steps) * len(log.agents) and set(table["sim_time"]) == set(steps)
    for t in steps[::5]:
        shown = town.agent_states(log, t).set_index("agent")
        rows = table[table["sim_time"] == t].set_index("agent")
        assert (rows["time"] == pd.Timestamp(log.at(t))).all()
        for name in log.agents:
            for column in ("place", "location", "activity", "walking_to"):
                assert known(rows.loc[name, column]) == known(shown.loc[name, column]), (t, name, column)


def known(value: Any) -> Any:
    """A value, with the ways of saying "none yet" (None, NaN, "") made one."""
    return None if value is None or value == "" or (isinstance(value, float) and np.isnan(value)) else value


def test_the_model_table_counts_what_the_log_holds_at_every_step(smallville_db):
    with EventStore(smallville_db) as store:
        table = model_table(store, every="2h")
        logged = store.events()
    assert table["time"].is_monotonic_increasing and table["sim_time"].iloc[0] == 0.0
    for row in table.itertuples():
        so_far = logged[logged["sim_time"] <= row.sim_time]
        count = so_far["kind"].value_counts()
        assert row.memories_total == count.get(events.MEMORY, 0)
        assert row.llm_calls_total == count.get(events.LLM_CALL, 0)
        assert row.conversations_total == count.get(events.CONVERSATION_START, 0)
        assert row.conversations == count.get(events.CONVERSATION_START, 0) - count.get(events.CONVERSATION_END, 0)
    log = stores.load_run(smallville_db)
    walking = [int(town.agent_states(log, t)["walking_to"].notna().sum()) for t in table["sim_time"]]
    assert list(table["agents_walking"]) == walking
    assert table["conversations_total"].iloc[-1] > 0 and table["memories_total"].is_monotonic_increasing


def test_the_store_reads_part_of_a_log_as_the_whole_log_holds_it(smallville_db):
    with EventStore(smallville_db, read_only=True) as store:
        run_id = store.run()["run_id"]
        every = store.event_rows(run_id)
        agent = next(a for _, _, k, a, _, _ in every if k == events.MEMORY)
        kinds = [events.MEMORY, events.PLAN]
        assert store.event_rows(run_id, kinds=kinds) == [r for r in every if r[2] in kinds]
        assert store.event_rows(run_id, kinds=kinds, agent=agent) == [r for r in every if r[2] in kinds and r[3] == agent]
        assert store.event_rows(run_id, after=100, through=250) == every[100:250]
        assert store.count_events(run_id, until=3600.0, through=5000) == sum(
            1 for seq, t, *_ in every if t <= 3600.0 and seq <= 5000)
        light = store.event_rows(run_id, kinds=[events.LLM_CALL, events.RUN_STARTED], omit=runlog.UNSHOWN)
    calls = [r for r in every if r[2] == events.LLM_CALL]
    assert [r[0] for r in light] == [r[0] for r in every if r[2] in (events.LLM_CALL, events.RUN_STARTED)]
    assert light[0][4] == every[0][4] and "seed" in light[0][4]  # run_started keeps its seed: only calls are cut
    assert all("prompt" not in r[4] and "seed" not in r[4] for r in light[1:])
    assert [{k: v for k, v in r[4].items() if k not in runlog.UNSHOWN[events.LLM_CALL]} for r in calls] == [
        r[4] for r in light[1:]]
