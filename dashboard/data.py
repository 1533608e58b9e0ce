"""What the dashboard shows, computed from the event log alone (no Streamlit here).

Everything is a function of (events, simulated time t): the state of the town
at t is rebuilt from the events logged up to t, so live runs, finished runs
and replays are the same code path. The log (``runlog.RunLog``) reads each
kind of event once, and grows by a live run's new events; where each agent is
at t is one binary search per agent (``sim.analysis.townstate``), and what a chart draws
is cut to what a chart takes (``MAX_BARS``): a day of 1,000 residents renders
in about 2 s and a live one refreshes within a second (bench/dashboard.py).
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agentville.dashboard import layout
from agentville.dashboard.runlog import RunLog, open_store
from agentville.sim.analysis.runlist import fork_origin, varying_settings
from agentville.sim.core import events, retrieval
from agentville.sim.core.location import place_of
from agentville.sim.generation.cache import LLMCache
from agentville.sim.scenario.stored import scenario_or_warning
from agentville.sim.store.eventstore import RunSignature

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


def load_run(path: str | Path, run_id: str | None = None) -> RunLog:
    """A run's log (its events read kind by kind as views ask: ``runlog``) and its scenario (the copy stored
    with the run, else its file)."""
    with open_store(path) as store:
        run = dict(store.run(run_id), db_path=str(path))
    scenario, warning = scenario_or_warning(run)  # none: the map falls back to a generated layout
    return RunLog.read(path, run["run_id"], scenario=scenario, scenario_warning=warning)


def run_signature(path: str | Path, run_id: str | None = None) -> RunSignature:
    """(run id, events logged, progress, status): changes whenever there is something new to show."""
    with open_store(path) as store:
        return store.run_signature(run_id)


def find_stores(folder: str | Path) -> pd.DataFrame:
    """Every event store in ``folder`` (not recursive) with its runs, newest first.

    ``seed``, ``settings`` (those that differ between the listed runs: a sweep's grid) and
    ``fork`` (where a fork comes from) tell runs of the same scenario apart.
    """
    runs = []
    for path in sorted(Path(folder).glob("*.db")):
        try:
            with open_store(path) as store:
                runs += [dict(run, db=str(path)) for run in store.runs()]
        except (sqlite3.DatabaseError, LookupError, KeyError):
            continue
    rows = [{"db": run["db"], "run": run["run_id"], "scenario": run["scenario"], "seed": run["seed"],
             "settings": settings, "fork": fork_origin(run), "status": run["status"], "started": run.get("started_at")}
            for run, settings in zip(runs, varying_settings(runs))]
    return pd.DataFrame(rows, columns=["db", "run", "scenario", "seed", "settings", "fork", "status", "started"])


# -- the town at time t ------------------------------------------------------------
def upto(frame: pd.DataFrame, t: float) -> pd.DataFrame:
    return frame[frame["sim_time"] <= t]


def agent_states(log: RunLog, t: float) -> pd.DataFrame:
    """Per agent at time t: place, area, activity, since when, and whether it is walking (and where to).

    Read from the log's town index (``sim.analysis.townstate``): one binary search per agent, whatever the log's size.
    """
    rows = []
    for name in dict.fromkeys(log.agents):
        state = log.town.state(name, t)
        row = {"agent": name, "place": state.place, "location": state.location, "activity": state.activity,
               "since": log.at(state.since) if state.since is not None else None, "emoji": emoji_for(state.activity),
               "walking_to": None, "progress": 0.0}
        if state.walk is not None:
            row.update(walking_to=state.walk.target, origin=state.walk.origin, progress=state.walk.progress(t),
                       emoji="🚶")
        rows.append(row)
    return pd.DataFrame(rows)


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


NAMED_PER_PLACE = 3  # more agents at one place than this: their names show on hover, the map says "+N more"
NAMED_WALKERS = 30  # in a bigger town walkers' names show on hover only
POSITION_COLUMNS = ["agent", "x", "y", "label", "activity", "location", "place", "tag", "side"]


def map_unit(places: pd.DataFrame) -> float:
    """A hundredth of the town's extent in the scenario's coordinates: markers keep their size whatever the scale."""
    if places.empty:
        return 1.0
    span = max(np.ptp(places["x"].to_numpy(dtype=float)), np.ptp(places["y"].to_numpy(dtype=float)))
    return float(span or 100.0) / 100


def agent_positions(states: pd.DataFrame, places: pd.DataFrame, partners: dict[str, str] | None = None
                    ) -> pd.DataFrame:
    """Marker positions: fanned out above their place, or part-way along a walk.

    Agents talking to each other (``partners``: agent -> partner) face each other across the fan. ``tag`` is
    the name written beside the marker, on its ``side``: empty in a crowd (more than ``NAMED_PER_PLACE`` at
    one place), where the names could not be read; ``label`` always has it (for the hover).
    """
    xy = places.set_index("place")[["x", "y"]]
    radius = 3.0 * map_unit(places)
    found: dict[str, dict[str, Any]] = {}
    staying: dict[str, list[Any]] = {}
    for row in states.itertuples():
        target = row.walking_to if isinstance(row.walking_to, str) else None
        if target and target in xy.index and getattr(row, "origin", None) in xy.index:
            (x0, y0), (x1, y1) = xy.loc[row.origin], xy.loc[target]
            found[row.agent] = _marker(row, x0 + (x1 - x0) * row.progress, y0 + (y1 - y0) * row.progress, "",
                                       len(states) <= NAMED_WALKERS)
        elif row.place in xy.index:
            staying.setdefault(row.place, []).append(row)
    for place, crowd in staying.items():
        rows = {row.agent: row for row in crowd}
        offsets = layout.fan(len(crowd), radius)
        for name, (dx, dy) in zip(layout.seats(list(rows), partners or {}), offsets):
            found[name] = _marker(rows[name], xy.loc[place, "x"] + dx, xy.loc[place, "y"] + dy, place,
                                  len(crowd) <= NAMED_PER_PLACE, left=dx < -1e-9)
    out = [found[name] for name in states["agent"] if name in found] if len(states) else []
    return pd.DataFrame(out, columns=POSITION_COLUMNS)


def _marker(row: Any, x: float, y: float, place: str, named: bool, left: bool = False) -> dict:
    label = f"{row.emoji} {row.agent}"
    walking = f"walking to {row.walking_to}" if isinstance(row.walking_to, str) else ""
    return {"agent": row.agent, "x": float(x), "y": float(y), "label": label, "activity": row.activity,
            "location": row.location or walking, "place": place, "tag": label if named else "",
            "side": "left" if left else "right"}


# -- agents --------------------------------------------------------------------------
def day_plan(log: RunLog, agent: str, t: float) -> tuple[dict | None, list[dict]]:
    """The agent's latest day plan at t, and the revisions made since."""
    plans = upto(log.of_agent(agent, events.PLAN), t)
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
    rows = upto(log.of_agent(agent, events.MEMORY), t)
    frame = pd.DataFrame([{**r.data, "sim_time": r.sim_time} for r in rows.itertuples()],
                         columns=["id", "kind", "text", "importance", "subject", "evidence", "depth", "sim_time"])
    if frame.empty:
        return frame.assign(time=[], recency=[], score=[])
    frame["time"] = [log.at(s) for s in frame["sim_time"]]
    # The memory stream's retrieval score (sim.core.retrieval), with creation time standing in for last access.
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
    mem = upto(log.of_agent(agent, events.MEMORY), t)
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
    said: dict[str, list[tuple[dt.datetime, str, str]]] = {}  # each conversation's lines, read in one pass
    for s, a, d in zip(lines["sim_time"], lines["agent"], lines["data"]):
        said.setdefault(d.get("conversation"), []).append((log.at(s), a, d["text"]))
    talks = []
    for row in starts.itertuples():
        cid = row.data["conversation"]
        talk = {"id": cid, "time": log.at(row.sim_time), "people": [row.agent, row.data["partner"]],
                "location": row.data.get("location", ""), "summary": ends[cid]["summary"] if cid in ends else "",
                "ongoing": cid not in ends, "lines": said.get(cid, [])}
        talks.append(talk)
    needle = search.strip().lower()
    if needle:
        talks = [c for c in talks
                 if needle in " ".join([*c["people"], c["summary"], *(x[2] for x in c["lines"])]).lower()]
    return talks[::-1]


MAX_BARS = 5000  # what a chart may draw: Altair refuses more rows (and a browser would crawl)


def timeline(log: RunLog, t: float, hours: float | None = None, max_bars: int = MAX_BARS) -> pd.DataFrame:
    """Actions as bars: who did what, where, from when to when (until the next action or t).

    Only bars in the last ``hours`` before t (all: None), and never more than
    ``max_bars``: in a big town the window shrinks to the latest bars that fit.
    Bars that began before the window are cut at its start.
    """
    acts = upto(log.kind(events.ACTION), t)
    if acts.empty:
        return pd.DataFrame(columns=["agent", "start", "end", "activity", "place"])
    frame = pd.DataFrame({"agent": acts["agent"].values, "sim_time": acts["sim_time"].values,
                          "data": acts["data"].values})
    frame["end_time"] = frame.groupby("agent")["sim_time"].shift(-1).fillna(t)
    cut = t - hours * 3600 if hours is not None else -math.inf
    shrunk = (frame["end_time"] > cut).sum() > max_bars
    if shrunk:  # the latest bars that fit: those ending after the max_bars-th latest end
        cut = float(np.sort(frame["end_time"].to_numpy())[-max_bars])
    frame = frame[frame["end_time"] > cut].copy()
    frame["activity"] = [d["activity"] for d in frame["data"]]
    frame["place"] = [place_of(d["location"]) for d in frame["data"]]
    frame["start"] = log.at(0) + pd.to_timedelta(frame["sim_time"].clip(lower=cut), unit="s")
    frame["end"] = log.at(0) + pd.to_timedelta(frame["end_time"], unit="s")
    bars = frame[["agent", "start", "end", "activity", "place"]].reset_index(drop=True)
    if shrunk:
        bars.attrs["shrunk_to"] = log.at(cut)  # where the bars begin
    return bars


def relationships(log: RunLog, t: float) -> pd.DataFrame:
    """Who talked to whom by t, and how often (one row per pair)."""
    ends = upto(log.kind(events.CONVERSATION_END), t)
    pairs = pd.DataFrame([sorted([a, d["partner"]]) for a, d in zip(ends["agent"], ends["data"])],
                         columns=["a", "b"])
    if pairs.empty:
        return pd.DataFrame(columns=["a", "b", "conversations"])
    return pairs.value_counts().rename("conversations").reset_index().sort_values("conversations", ascending=False)


NODE_SPACING_IN = 1.4  # inches between neighbours on the relationship circle
ALL_NODES_UP_TO = 60  # in a bigger town the graph shows only those with a tie shown (or chosen)


def relationship_dot(pairs: pd.DataFrame, agents: list[str], focus: Collection[str] = ()) -> str:
    """A Graphviz graph of the pairs: ``agents`` pinned on a circle in their order (the same at every time),
    edges thicker and darker with more conversations, and with ``focus``, only the ties of those agents."""
    def quote(name: str) -> str:
        """A DOT string showing ``name`` as it is: Graphviz reads escapes (\\N, \\n) and entities (&lt;) in labels."""
        return '"' + name.replace("\\", "\\\\").replace('"', '\\"').replace("&", "&amp;") + '"'

    names = list(dict.fromkeys([*agents, *sorted(set(pairs["a"]) | set(pairs["b"]))]))
    at = dict(zip(names, layout.circle(len(names), NODE_SPACING_IN)))
    shown = pairs[pairs["a"].isin(focus) | pairs["b"].isin(focus)] if focus else pairs
    tied = set(shown["a"]) | set(shown["b"])
    most = max(1, int(shown["conversations"].max())) if len(shown) else 1
    lines = ["graph G {", 'layout=neato; splines=false; outputorder=edgesfirst;',
             'node [shape=box, style="rounded,filled", color="#9aaccc", fillcolor="#e8f0fe", fontsize=14];']
    for name in names:
        if len(names) > ALL_NODES_UP_TO and name not in tied and name not in focus:
            continue
        look = (' fillcolor="#ffd8a8", color="#d9480f"' if name in focus else
                "" if name in tied else ' fontcolor="#9a9a9a", color="#dddddd", fillcolor="#f6f6f6"')
        lines.append(f'{quote(name)} [pos="{at[name][0]:.2f},{at[name][1]:.2f}!"{look}];')
    for r in shown.itertuples():
        share = r.conversations / most  # the most talkative pair: 6 points wide and opaque
        said = f"{r.a} – {r.b}: {r.conversations} conversation" + ("s" if r.conversations != 1 else "")
        lines.append(f'{quote(r.a)} -- {quote(r.b)} [penwidth={1 + 5 * share:.1f}, '
                     f'color="#3b6ea5{int(70 + 185 * share):02x}", tooltip={quote(said)}];')
    return "\n".join(lines + ["}"])


GENERATION_COLUMNS = ["purpose", "hour", "asked_hour", "prompt_tokens", "output_tokens", "latency_s", "cache_hit",
                      "fallback", "lead_s", "submitted_s", "ahead_s"]


def _hours(log: RunLog, seconds: np.ndarray) -> pd.Series:
    """The simulated hours (timestamps on the hour) that ``seconds`` after the run's start fall in."""
    return pd.Series(pd.Timestamp(log.at(0)) + pd.to_timedelta(seconds, unit="s")).dt.floor("h")


def generation_calls(log: RunLog, t: float) -> pd.DataFrame:
    """One row per model call up to t: purpose, tokens, latency, cache hit, fallback, simulated hour,
    and how long before it was needed the request was asked (``lead_s``, simulated seconds: the pipelining).

    Two wall-clock facts are NaN where the call's row lacks them (runs logged before they were measured, and
    answers asked for at once): ``submitted_s``, wall seconds since the run's generation service started when
    the request went to the backend, and ``ahead_s``, simulated seconds by which the asking agents' cluster
    was ahead of the town's slowest one (the logged ``wall["ahead_s"]``; 0 when the engine runs in order).
    ``asked_hour`` is the simulated hour the request was asked in.
    """
    every = log.derived("generation_calls", lambda: _calls_table(log))  # read once per log, then cut at t
    return every[every["sim_time"] <= t][GENERATION_COLUMNS].reset_index(drop=True)


def _calls_table(log: RunLog) -> pd.DataFrame:
    calls = log.kind(events.LLM_CALL)
    if calls.empty:
        return pd.DataFrame(columns=[*GENERATION_COLUMNS, "sim_time"])
    walls = [w or {} for w in calls["wall"]]
    # runs logged before due times existed have neither field: asked when due
    asked = [float(d.get("asked", s)) for s, d in zip(calls["sim_time"], calls["data"])]
    return pd.DataFrame({
        "purpose": [d["purpose"] for d in calls["data"]],
        "hour": _hours(log, calls["sim_time"].to_numpy(dtype=float)),
        "asked_hour": _hours(log, np.asarray(asked, dtype=float)),
        "prompt_tokens": [d.get("prompt_tokens", 0) for d in calls["data"]],
        "output_tokens": [d.get("output_tokens", 0) for d in calls["data"]],
        "latency_s": [w.get("latency_s") for w in walls],
        "cache_hit": [bool(w.get("cache_hit")) for w in walls],
        "fallback": [bool(d.get("fallback")) for d in calls["data"]],
        "lead_s": [float(d.get("due", s)) - a for s, a, d in zip(calls["sim_time"], asked, calls["data"])],
        "submitted_s": pd.to_numeric(pd.Series([w.get("submitted_s") for w in walls], dtype=object)),
        "ahead_s": pd.to_numeric(pd.Series([w.get("ahead_s") for w in walls], dtype=object)),
        "sim_time": calls["sim_time"].to_numpy(),
    }, columns=[*GENERATION_COLUMNS, "sim_time"])


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


# -- what charts draw: never more rows than a chart takes ------------------------------------
def sketch(frame: pd.DataFrame, value: str, by: str, limit: int = MAX_BARS) -> pd.DataFrame:
    """``frame``'s ``value`` per ``by`` for a box plot: as it is when small, else each group's quantiles at
    evenly spaced probabilities (at most ``limit`` rows in all), whose box plot is the same to the eye:
    the median and quartiles are kept, the whiskers and outliers drawn from the sketch."""
    shown = frame[[by, value]]
    if len(shown) <= limit:
        return shown
    points = max(5, limit // max(1, shown[by].nunique()))
    probabilities = np.linspace(0, 1, points)
    parts = [pd.DataFrame({by: name, value: np.quantile(group.to_numpy(dtype=float), probabilities)})
             for name, group in shown.groupby(by)[value]]
    return pd.concat(parts, ignore_index=True)


def thin_steps(steps: pd.DataFrame, x: str, y: str, limit: int = MAX_BARS) -> pd.DataFrame:
    """A step curve of at most ``limit`` points: the highest ``y`` in each of ``limit`` equal spans of ``x``
    (peaks are kept; a dip shorter than a span is not drawn)."""
    if len(steps) <= limit:
        return steps
    spans = np.linspace(steps[x].min(), steps[x].max(), limit + 1)
    which = np.clip(np.searchsorted(spans, steps[x], side="right") - 1, 0, limit - 1)
    peaks = steps.groupby(which)[y].max()
    return pd.DataFrame({x: spans[peaks.index.to_numpy()], y: peaks.to_numpy()})
