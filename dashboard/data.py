"""What the dashboard shows, computed from the event log alone (no Streamlit here).

Everything is a function of (events, simulated time t): the state of the town
at t is rebuilt from the events logged up to t, so live runs, finished runs
and replays are the same code path. Functions are vectorised with pandas so a
25-agent day (tens of thousands of events) re-renders in well under a second.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentville.agents import memory as retrieval
from agentville.sim import events
from agentville.sim.generation.cache import LLMCache
from agentville.sim.location import place_of
from agentville.sim.scenario import Scenario, load_scenario
from agentville.sim.store import EventStore, RunSignature

EMOJI = [  # first matching keyword wins
    ("sleep", "😴"), ("talking", "💬"), ("coffee", "☕"), ("eat", "🍽️"), ("lunch", "🍽️"), ("dinner", "🍽️"),
    ("breakfast", "🍳"), ("cook", "🍳"), ("study", "📚"), ("read", "📖"), ("lecture", "🎓"), ("class", "🎓"),
    ("writ", "✍️"), ("paint", "🎨"), ("music", "🎵"), ("guitar", "🎸"), ("piano", "🎹"), ("shop", "🛒"),
    ("buy", "🛒"), ("walk", "🚶"), ("park", "🌳"), ("garden", "🌱"), ("work", "💼"), ("serv", "☕"),
    ("party", "🎉"), ("wait", "⏳"), ("shower", "🚿"), ("clean", "🧹"),
]


def emoji_for(activity: str) -> str:
    lowered = (activity or "").lower()
    return next((e for word, e in EMOJI if word in lowered), "🙂")


@dataclass
class RunLog:
    """One run's events, split by kind and sorted by time, plus what the run says about itself."""

    run: dict[str, Any]
    events: pd.DataFrame  # seq, sim_time, kind, agent, data, wall
    scenario: Scenario | None

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.run["sim_start"])

    @property
    def reached(self) -> float:
        """How far the run has got, in simulated seconds."""
        logged = float(self.events["sim_time"].max()) if len(self.events) else 0.0
        return max(float(self.run.get("sim_reached") or 0.0), logged)

    @property
    def end(self) -> float:
        until = self.run.get("sim_until")
        planned = (dt.datetime.fromisoformat(until) - self.start).total_seconds() if until else 0.0
        return max(planned, self.reached)

    @property
    def live(self) -> bool:
        return self.run["status"] == events.RUNNING

    def at(self, seconds: float) -> dt.datetime:
        return self.start + dt.timedelta(seconds=seconds)

    def kind(self, *kinds: str) -> pd.DataFrame:
        return self.events[self.events["kind"].isin(kinds)]

    @property
    def agents(self) -> list[str]:
        started = self.kind(events.RUN_STARTED)
        if len(started):
            first: events.RunStarted = started.iloc[0]["data"]
            return list(first.get("agents", []))
        return sorted(a for a in self.events["agent"].dropna().unique())


def open_store(path: str | Path) -> EventStore:
    """The store, read-only: the dashboard never writes."""
    return EventStore(path, read_only=True)


def load_run(path: str | Path, run_id: str | None = None) -> RunLog:
    """Read a run's events (JSON decoded once) and its scenario, if the file is still where it was."""
    with open_store(path) as store:
        run = dict(store.run(run_id), db_path=str(path))
        rows = store.event_rows(run["run_id"])
    columns = ["seq", "sim_time", "kind", "agent", "data", "wall"]
    frame = pd.DataFrame(dict(zip(columns, map(list, zip(*rows)))) if rows else {c: [] for c in columns},
                         columns=columns)
    scenario = None
    if run.get("scenario_path"):
        try:
            scenario = load_scenario(run["scenario_path"])
        except Exception:  # moved or edited since: the map falls back to a generated layout
            scenario = None
    return RunLog(run, frame, scenario)


def run_signature(path: str | Path, run_id: str | None = None) -> RunSignature:
    """(run id, events logged, progress, status): changes whenever there is something new to show."""
    with open_store(path) as store:
        return store.run_signature(run_id)


def find_stores(folder: str | Path) -> pd.DataFrame:
    """Every event store in ``folder`` (not recursive) with its runs, newest first."""
    rows = []
    for path in sorted(Path(folder).glob("*.db")):
        try:
            with open_store(path) as store:
                for run in store.runs():
                    rows.append({"db": str(path), "run": run["run_id"], "scenario": run["scenario"],
                                 "status": run["status"], "started": run.get("started_at")})
        except (sqlite3.DatabaseError, LookupError, KeyError):
            continue
    return pd.DataFrame(rows, columns=["db", "run", "scenario", "status", "started"])


# -- the town at time t ------------------------------------------------------------
def upto(frame: pd.DataFrame, t: float) -> pd.DataFrame:
    return frame[frame["sim_time"] <= t]


def agent_states(log: RunLog, t: float) -> pd.DataFrame:
    """Per agent at time t: place, area, activity, since when, and whether it is walking (and where to)."""
    rows: dict[str, dict[str, Any]] = {
        name: {"agent": name, "place": None, "location": "", "activity": "", "since": None, "emoji": "🙂",
               "walking_to": None, "progress": 0.0} for name in log.agents}
    where = upto(log.kind(*events.WHERE_LOCATED), t).groupby("agent").tail(1)
    for row in where.itertuples():
        if row.agent in rows:
            location = row.data["location"]
            rows[row.agent].update(location=location, place=place_of(location))
    acts = upto(log.kind(events.ACTION), t).groupby("agent").tail(1)
    for row in acts.itertuples():
        if row.agent in rows:
            activity = row.data["activity"]
            rows[row.agent].update(activity=activity, since=log.at(row.sim_time), emoji=emoji_for(activity))
    moves = upto(log.kind(events.MOVE, events.ARRIVED), t).groupby("agent").tail(1)
    for row in moves.itertuples():
        if row.kind == events.MOVE and row.agent in rows:
            move: events.Move = row.data
            minutes = float(move.get("minutes") or 0) or 1.0
            rows[row.agent].update(walking_to=place_of(move["target"]), origin=place_of(move["origin"]),
                                   progress=min(1.0, (t - row.sim_time) / (minutes * 60)), emoji="🚶")
    return pd.DataFrame(list(rows.values()))


def place_layout(log: RunLog) -> pd.DataFrame:
    """Places with coordinates: the scenario's, or a circle when the scenario file is gone."""
    if log.scenario is not None:
        return pd.DataFrame([{"place": p.name, "kind": p.kind or "place", "x": p.xy[0], "y": p.xy[1]}
                             for p in log.scenario.places])
    names = sorted({place_of(str(d.get("location", ""))) for d in log.kind(*events.WHERE_LOCATED).data} - {""})
    return pd.DataFrame([{"place": n, "kind": "place", "x": 50 + 40 * math.cos(2 * math.pi * i / max(1, len(names))),
                          "y": 50 + 40 * math.sin(2 * math.pi * i / max(1, len(names)))}
                         for i, n in enumerate(names)], columns=["place", "kind", "x", "y"])


def path_segments(log: RunLog, places: pd.DataFrame) -> pd.DataFrame:
    if log.scenario is None:
        return pd.DataFrame(columns=["x", "y", "x2", "y2", "minutes"])
    xy = places.set_index("place")[["x", "y"]]
    rows = [{"x": xy.loc[a, "x"], "y": xy.loc[a, "y"], "x2": xy.loc[b, "x"], "y2": xy.loc[b, "y"],
             "minutes": p.minutes}
            for p in log.scenario.paths for a, b in [p.between] if a in xy.index and b in xy.index]
    return pd.DataFrame(rows, columns=["x", "y", "x2", "y2", "minutes"])


def agent_positions(states: pd.DataFrame, places: pd.DataFrame) -> pd.DataFrame:
    """Marker positions: at their place (spread around it), or part-way along a walk."""
    xy = places.set_index("place")[["x", "y"]]
    out = []
    crowd: dict[str, int] = {}
    for row in states.itertuples():
        target = row.walking_to if isinstance(row.walking_to, str) else None
        if target and target in xy.index and getattr(row, "origin", None) in xy.index:
            (x0, y0), (x1, y1) = xy.loc[row.origin], xy.loc[target]
            x, y = x0 + (x1 - x0) * row.progress, y0 + (y1 - y0) * row.progress
        elif row.place in xy.index:
            k = crowd.get(row.place, 0)
            crowd[row.place] = k + 1
            angle, radius = k * 2.4, 2.0 + 0.6 * math.sqrt(k)
            x, y = xy.loc[row.place, "x"] + radius * math.cos(angle), xy.loc[row.place, "y"] + radius * math.sin(angle)
        else:
            continue
        out.append({"agent": row.agent, "x": float(x), "y": float(y), "label": f"{row.emoji} {row.agent}",
                    "activity": row.activity, "location": row.location or (f"walking to {target}" if target else "")})
    return pd.DataFrame(out, columns=["agent", "x", "y", "label", "activity", "location"])


# -- agents --------------------------------------------------------------------------
def day_plan(log: RunLog, agent: str, t: float) -> tuple[dict | None, list[dict]]:
    """The agent's latest day plan at t, and the revisions made since."""
    plans = upto(log.kind(events.PLAN), t)
    plans = plans[plans["agent"] == agent]
    days = [r for r in plans.itertuples() if r.data.get("level") == "day"]
    if not days:
        return None, []
    day = days[-1]
    revisions = [dict(r.data, time=log.at(r.sim_time)) for r in plans.itertuples()
                 if r.data.get("level") == "revision" and r.sim_time >= day.sim_time]
    return dict(day.data, time=log.at(day.sim_time)), revisions


def memories(log: RunLog, agent: str, t: float, focus: str | None = None) -> pd.DataFrame:
    """The memory stream at t with the retrieval score parts (recency from creation time).

    Relevance is to ``focus`` (another memory's text), from the embeddings the
    run cached; without a focus, or without cached vectors, it is left out.
    """
    rows = upto(log.kind(events.MEMORY), t)
    rows = rows[rows["agent"] == agent]
    frame = pd.DataFrame([{**r.data, "sim_time": r.sim_time} for r in rows.itertuples()],
                         columns=["id", "kind", "text", "importance", "subject", "evidence", "depth", "sim_time"])
    if frame.empty:
        return frame.assign(time=[], recency=[], score=[])
    frame["time"] = [log.at(s) for s in frame["sim_time"]]
    # The retrieval score of agents.memory, with creation time standing in for last access.
    frame["recency"] = retrieval.recency_scores(frame["sim_time"].to_numpy(), t, retrieval.RECENCY_DECAY)
    parts = [retrieval.minmax(frame["recency"].to_numpy()),
             retrieval.minmax(frame["importance"].to_numpy(dtype=np.float64))]
    if focus:
        vectors = cached_vectors(log, list(frame["text"]) + [focus])
        if focus in vectors and all(text in vectors for text in frame["text"]):
            matrix = np.stack([vectors[text] for text in frame["text"]])
            frame["relevance"] = (matrix @ vectors[focus]).astype(np.float64)
            parts.append(retrieval.minmax(frame["relevance"].to_numpy()))
    frame["score"] = np.sum(parts, axis=0)
    return frame.drop(columns=["sim_time"])


def cached_vectors(log: RunLog, texts: list[str]) -> dict[str, np.ndarray]:
    """Unit embeddings of ``texts`` from the store's answer cache (the run's embedder), where present."""
    model = (log.run.get("settings") or {}).get("embedder")
    if not model or not log.run.get("db_path"):
        return {}
    with open_store(log.run["db_path"]) as store:
        found = LLMCache.reader(store.db).get_vectors(model, texts)
    return {text: vector / (np.linalg.norm(vector) or 1.0) for text, vector in found.items()}


def reflections(log: RunLog, agent: str, t: float) -> list[dict]:
    """Insights written up to t, each with the texts of its evidence."""
    mem = upto(log.kind(events.MEMORY), t)
    mem = mem[mem["agent"] == agent]
    by_id = {r.data["id"]: r.data for r in mem.itertuples()}
    return [{**d, "time": log.at(s), "evidence_texts": [by_id[e]["text"] for e in d["evidence"] if e in by_id]}
            for s, d in zip(mem["sim_time"], mem["data"]) if d["kind"] == "thought" and d.get("evidence")]


# -- conversations, timeline, relationships, generation --------------------------------
def conversations(log: RunLog, t: float, search: str = "") -> list[dict]:
    """Conversations started by t, newest first, with their lines so far; ``search`` filters by text or name."""
    lines = upto(log.kind(events.UTTERANCE), t)
    starts = upto(log.kind(events.CONVERSATION_START), t)
    ends: dict[str, events.ConversationEnd] = {
        r.data["conversation"]: r.data for r in upto(log.kind(events.CONVERSATION_END), t).itertuples()}
    talks = []
    for row in starts.itertuples():
        cid = row.data["conversation"]
        mine = lines[np.array([d.get("conversation") == cid for d in lines["data"]], dtype=bool)]  # [] picks columns
        talk = {"id": cid, "time": log.at(row.sim_time), "people": [row.agent, row.data["partner"]],
                "location": row.data.get("location", ""), "summary": ends[cid]["summary"] if cid in ends else "",
                "ongoing": cid not in ends,
                "lines": [(log.at(s), a, d["text"]) for s, a, d in zip(mine["sim_time"], mine["agent"], mine["data"])]}
        talks.append(talk)
    needle = search.strip().lower()
    if needle:
        talks = [c for c in talks
                 if needle in " ".join([*c["people"], c["summary"], *(x[2] for x in c["lines"])]).lower()]
    return talks[::-1]


def timeline(log: RunLog, t: float) -> pd.DataFrame:
    """Actions as bars: who did what, where, from when to when (until the next action or t)."""
    acts = upto(log.kind(events.ACTION), t)
    if acts.empty:
        return pd.DataFrame(columns=["agent", "start", "end", "activity", "place"])
    frame = pd.DataFrame({"agent": acts["agent"].values, "sim_time": acts["sim_time"].values,
                          "activity": [d["activity"] for d in acts["data"]],
                          "place": [place_of(d["location"]) for d in acts["data"]]})
    frame["end_time"] = frame.groupby("agent")["sim_time"].shift(-1).fillna(t)
    frame["start"] = log.at(0) + pd.to_timedelta(frame["sim_time"], unit="s")
    frame["end"] = log.at(0) + pd.to_timedelta(frame["end_time"], unit="s")
    return frame[["agent", "start", "end", "activity", "place"]]


def relationships(log: RunLog, t: float) -> pd.DataFrame:
    """Who talked to whom by t, and how often (one row per pair)."""
    ends = upto(log.kind(events.CONVERSATION_END), t)
    pairs = pd.DataFrame([sorted([a, d["partner"]]) for a, d in zip(ends["agent"], ends["data"])],
                         columns=["a", "b"])
    if pairs.empty:
        return pd.DataFrame(columns=["a", "b", "conversations"])
    return pairs.value_counts().rename("conversations").reset_index().sort_values("conversations", ascending=False)


def relationship_dot(pairs: pd.DataFrame, agents: list[str]) -> str:
    """A Graphviz graph of the pairs (thicker edges for more conversations)."""
    def quote(name: str) -> str:
        """A DOT string showing ``name`` as it is: Graphviz reads escapes (\\N, \\n) and entities (&lt;) in labels."""
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") + '"'

    lines = ["graph G {", 'layout=neato; overlap=false; splines=true; size="9,6";',
             'node [shape=ellipse, style=filled, fillcolor="#e8f0fe", fontsize=10];']
    lines += [f"{quote(a)};" for a in agents]
    lines += [f'{quote(r.a)} -- {quote(r.b)} [penwidth={1 + min(6, r.conversations)}, label="{r.conversations}"];'
              for r in pairs.itertuples()]
    return "\n".join(lines + ["}"])


GENERATION_COLUMNS = ["purpose", "hour", "asked_hour", "prompt_tokens", "output_tokens", "latency_s", "cache_hit",
                      "fallback", "lead_s", "submitted_s", "ahead_s"]


def _hour(log: RunLog, seconds: float) -> dt.datetime:
    """The simulated hour (a timestamp on the hour) ``seconds`` after the run's start falls in."""
    return log.at(seconds).replace(minute=0, second=0, microsecond=0)


def generation_calls(log: RunLog, t: float) -> pd.DataFrame:
    """One row per model call up to t: purpose, tokens, latency, cache hit, fallback, simulated hour,
    and how long before it was needed the request was asked (``lead_s``, simulated seconds: the pipelining).

    Two wall-clock facts are NaN where the call's row lacks them (runs logged before they were measured, and
    answers asked for at once): ``submitted_s``, wall seconds since the run's generation service started when
    the request went to the backend, and ``ahead_s``, simulated seconds by which the asking agents' cluster
    was ahead of the town's slowest one (the logged ``wall["ahead_s"]``; 0 when the engine runs in order).
    ``asked_hour`` is the simulated hour the request was asked in.
    """
    calls = upto(log.kind(events.LLM_CALL), t)
    if calls.empty:
        return pd.DataFrame(columns=GENERATION_COLUMNS)
    walls = [w or {} for w in calls["wall"]]
    # runs logged before due times existed have neither field: asked when due
    asked = [float(d.get("asked", s)) for s, d in zip(calls["sim_time"], calls["data"])]
    return pd.DataFrame({
        "purpose": [d["purpose"] for d in calls["data"]],
        "hour": [_hour(log, s) for s in calls["sim_time"]],
        "asked_hour": [_hour(log, s) for s in asked],
        "prompt_tokens": [d.get("prompt_tokens", 0) for d in calls["data"]],
        "output_tokens": [d.get("output_tokens", 0) for d in calls["data"]],
        "latency_s": [w.get("latency_s") for w in walls],
        "cache_hit": [bool(w.get("cache_hit")) for w in walls],
        "fallback": [bool(d.get("fallback")) for d in calls["data"]],
        "lead_s": [float(d.get("due", s)) - a for s, a, d in zip(calls["sim_time"], asked, calls["data"])],
        "submitted_s": pd.to_numeric(pd.Series([w.get("submitted_s") for w in walls], dtype=object)),
        "ahead_s": pd.to_numeric(pd.Series([w.get("ahead_s") for w in walls], dtype=object)),
    }, columns=GENERATION_COLUMNS)


def requests_in_flight(calls: pd.DataFrame) -> pd.DataFrame:
    """How many model requests were in flight over wall time: ``wall_s`` (seconds since the run's generation
    service started) and ``in_flight`` from that moment until the next row's ``wall_s`` (a step function).

    It exists to show how well the shared workers are kept busy: the simulation asks ahead so that the
    backend always has a batch's worth of requests to work on; a curve that keeps dropping towards 0 means
    the workers sit idle waiting for the simulation to ask, a curve flat at the workers' capacity means the
    simulation waits for them. Each request of ``calls`` (``generation_calls``) counts from ``submitted_s`` to
    ``submitted_s + latency_s``; rows without both are left out, and a request ending when another starts
    does not overlap it (cache hits, answered at once, add nothing). Every point where requests start or end
    is a row, after all the changes at that moment. A resumed run restarts the wall clock, so its sessions
    overlap here.
    """
    timed = calls.dropna(subset=["submitted_s", "latency_s"])
    if timed.empty:
        return pd.DataFrame({"wall_s": pd.Series(dtype=float), "in_flight": pd.Series(dtype=int)})
    start = timed["submitted_s"].astype(float)
    end = start + timed["latency_s"].astype(float)
    sweep = pd.concat([pd.Series(1, index=start.to_numpy()), pd.Series(-1, index=end.to_numpy())])
    counts = sweep.groupby(level=0).sum().sort_index().cumsum()
    counts = counts[counts.diff() != 0]  # moments that change nothing (a cache hit) are no steps
    return pd.DataFrame({"wall_s": counts.index.to_numpy(dtype=float), "in_flight": counts.to_numpy(dtype=int)})


def ahead_by_hour(calls: pd.DataFrame) -> pd.DataFrame:
    """Per simulated hour a request was asked in (``asked_hour``), how far ahead of the town's slowest
    cluster the asking cluster was (``ahead_s`` of ``generation_calls``), in simulated minutes: ``mean_min``,
    ``max_min``, and how many ``calls`` had it. Calls without the measurement (older runs) are left out.

    Scheduled out of order, areas of the town whose agents do not interact run ahead of the slowest one and
    keep the workers fed; in order every cluster is at the same time and both columns are 0.
    """
    measured = calls.dropna(subset=["ahead_s"])
    if measured.empty:
        return pd.DataFrame(columns=["hour", "mean_min", "max_min", "calls"])
    minutes = (measured["ahead_s"].astype(float) / 60).groupby(measured["asked_hour"])
    return pd.DataFrame({"mean_min": minutes.mean(), "max_min": minutes.max(), "calls": minutes.size()}
                        ).rename_axis("hour").reset_index()
