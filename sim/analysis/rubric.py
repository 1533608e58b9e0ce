"""How believable a run was, measured from its own log: the rubric's measurable half (issue 27).

``rubric(events, scenario)`` reads one run's events once (a DataFrame from
``EventStore.events``, in log order) and returns three tidy tables: one row per
measure (``measure, value, unit, what``), one row per resident, and the
ungrounded names with the texts that named them. Every measure is a plain
count or share of logged facts, so the same log gives the same tables, and the
work per resident is flat: rows are grouped by agent in one pass, never a scan
of the log per agent. A measure with nothing to measure (no night in a morning
run, no conversation) is NaN, not 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from agentville.sim.core.activities import is_sleep
from agentville.sim.core.events import (
    ACTION,
    AGENT_ADDED,
    CONVERSATION_END,
    FALLBACK,
    LLM_CALL,
    MOVE,
    PARSE_FAILED,
    PLACED,
    RUN_STARTED,
    UTTERANCE,
    WHERE_LOCATED,
)
from agentville.sim.core.location import place_of
from agentville.sim.scenario.schema import Scenario
from agentville.sim.scenario.stored import scenario_or_warning
from agentville.sim.store.eventstore import EventStore

from . import grounding, repetition
from .encounters import conversation_counts, conversation_pairs, density, presence
from .provenance import residents
from .stats import llm_stats

COLUMNS = ["measure", "value", "unit", "what"]
AGENT_COLUMNS = ["agent", "asleep_at_night", "out_at_midday", "places_per_day", "repeated_lines",
                 "repeated_activities", "conversations", "ungrounded_texts"]
UNGROUNDED_COLUMNS = ["agent", "sim_time", "kind", "name", "text"]
NIGHT, MIDDAY = (1, 5), (11, 14)  # clock hours [from, to): asleep then; awake and out then
SAMPLE_S = 300  # agents are looked at every five simulated minutes, on the clock's five-minute marks
DAY_S = 86400


@dataclass(frozen=True)
class Rubric:
    """A run's rubric: the measures, the same per resident, and every ungrounded name with its text."""

    measures: pd.DataFrame
    agents: pd.DataFrame
    ungrounded: pd.DataFrame


def run_rubric(store: EventStore, run_id: str | None = None) -> Rubric:
    """The rubric of a stored run (the newest when ``run_id`` is None), with the scenario stored with it."""
    run = store.run(run_id)
    scenario, _ = scenario_or_warning(run)
    return rubric(store.events(run["run_id"]), scenario)


def rubric(events: pd.DataFrame, scenario: Scenario | None = None) -> Rubric:
    """The rubric of one run's events; ``scenario`` grounds names and homes (without it, a resident's home
    is where it was first placed, and only the log's own words ground names)."""
    events = events.sort_values("seq")
    people = residents(events)
    start = _start(events)
    homes = _homes(events, scenario)
    day = _day_shares(events, people, homes, start)
    places = _places_per_day(events, start)
    lines, actions, texts = _by_kind(events, scenario)
    talks = _conversations(events, people, lines)
    answers = _answer_health(events)
    agents = pd.DataFrame({"agent": people})
    agents["asleep_at_night"] = [day[a][0] for a in people]
    agents["out_at_midday"] = [day[a][1] for a in people]
    agents["places_per_day"] = [places.get(a, np.nan) for a in people]
    agents["repeated_lines"] = [_share(lines, a, "repeated") for a in people]
    agents["repeated_activities"] = [_share(actions, a, "repeated") for a in people]
    agents["conversations"] = [int(talks["counts"].get(a, 0)) for a in people]
    agents["ungrounded_texts"] = [_share(texts, a, "ungrounded") for a in people]
    ungrounded = texts.loc[texts["ungrounded"].astype(bool)].explode("names").rename(columns={"names": "name"})
    measures = [
        ("asleep at night", _mean(agents["asleep_at_night"]), "share",
         f"of agent-moments {NIGHT[0]:02d}:00-{NIGHT[1]:02d}:00 spent asleep (sleep is the activity)"),
        ("out at midday", _mean(agents["out_at_midday"]), "share",
         f"of agent-moments {MIDDAY[0]:02d}:00-{MIDDAY[1]:02d}:00 spent awake and away from home"),
        ("places per day", _mean(pd.Series(list(places.values()), dtype=float)), "places",
         "distinct places a resident was at in a simulated day (a partial day counts), mean over residents"),
        ("repeated lines", _mean(lines["repeated"]), "share",
         "of lines said before (nearly) by the same speaker or in the same conversation"),
        ("repeated activities", _mean(actions["repeated"]), "share",
         "of activities taken up (steps of one counted once) that (nearly) repeat one of the agent's last 50"),
        ("talk network density", talks["density"], "share",
         "of pairs of residents who talked with each other at least once"),
        ("residents who talked", talks["talked"], "share", "of residents in at least one conversation"),
        ("lines per conversation", talks["lines"], "lines", "mean lines of a finished conversation"),
        ("ended by decision", talks["decision"], "share", "of finished conversations one side chose to end"),
        ("ended by goodbye", talks["goodbye"], "share", "of finished conversations ended by a farewell line"),
        ("ended by turn limit", talks["limit"], "share", "of finished conversations cut off at the turn limit"),
        ("conversation loops", talks["loops"], "share", "of conversations in which a line came back (nearly) again"),
        *answers,
        ("ungrounded utterances", _mean(texts.loc[texts["kind"] == UTTERANCE, "ungrounded"]), "share",
         "of lines naming someone or something capitalised that is not in the town or its scenario"),
        ("ungrounded texts", _mean(texts["ungrounded"]), "share",
         "of lines, plans and memories naming someone or something not in the town or its scenario"),
    ]
    return Rubric(pd.DataFrame(measures, columns=COLUMNS), agents[AGENT_COLUMNS],
                  ungrounded[UNGROUNDED_COLUMNS].reset_index(drop=True))


def _mean(values: pd.Series) -> float:
    clean = pd.to_numeric(values, errors="coerce").dropna()
    return float(clean.mean()) if len(clean) else float("nan")


def _share(table: pd.DataFrame, agent: str, column: str) -> float:
    return _mean(table.loc[table["agent"] == agent, column]) if len(table) else float("nan")


def _start(events: pd.DataFrame) -> dt.datetime:
    """The run's simulated start (its ``run_started`` row, else the first row's date-time less its seconds)."""
    started = events[events["kind"] == RUN_STARTED]
    if len(started):
        return dt.datetime.fromisoformat(started["data"].iloc[0]["start"])
    first = events.iloc[0]
    return (pd.Timestamp(first["time"]) - pd.Timedelta(seconds=float(first["sim_time"]))).to_pydatetime()


def _homes(events: pd.DataFrame, scenario: Scenario | None) -> dict[str, str]:
    """Each resident's home place: its persona's, else where it was first placed."""
    homes: dict[str, str] = {}
    for agent, kind, data in zip(events["agent"], events["kind"], events["data"]):
        if kind == PLACED and agent not in homes:
            homes[agent] = place_of(data["location"])
        elif kind == AGENT_ADDED and data.get("persona", {}).get("home"):
            homes[agent] = place_of(data["persona"]["home"])
    for persona in scenario.personas if scenario is not None else ():
        homes[persona.name] = place_of(persona.home)
    return homes


def _day_shares(events: pd.DataFrame, people: list[str], homes: dict[str, str],
                start: dt.datetime) -> dict[str, tuple[float, float]]:
    """Per resident: (share of night moments asleep, share of midday moments awake and away from home)."""
    states: dict[str, tuple[list[float], list[bool], list[bool]]] = {a: ([], [], []) for a in people}
    now: dict[str, tuple[str | None, bool]] = {}
    rows = events[events["kind"].isin([*WHERE_LOCATED, MOVE, ACTION])]
    for agent, kind, t, data in zip(rows["agent"], rows["kind"], rows["sim_time"], rows["data"]):
        place, asleep = now.get(agent, (None, False))
        if kind == ACTION:
            asleep = is_sleep(data["activity"])
        elif kind == MOVE:
            place, asleep = None, False  # walking: out, and awake
        else:
            place = place_of(data["location"])
        now[agent] = (place, asleep)
        changes, sleeps, at_home = states.setdefault(agent, ([], [], []))
        changes.append(float(t))
        sleeps.append(asleep)
        at_home.append(place is not None and place == homes.get(agent))
    end = float(events["sim_time"].max()) if len(events) else 0.0
    offset = start.hour * 3600 + start.minute * 60 + start.second  # seconds past midnight at the start
    shares = {}
    for agent in people:
        times, sleeping, home = (np.asarray(column) for column in states[agent])
        if not len(times):
            shares[agent] = (float("nan"), float("nan"))
            continue
        first = -(-(times[0] + offset) // SAMPLE_S) * SAMPLE_S - offset
        grid = np.arange(first, end, SAMPLE_S)
        at = np.searchsorted(times, grid, side="right") - 1
        hour = ((grid + offset) % DAY_S) // 3600
        night, noon = (hour >= NIGHT[0]) & (hour < NIGHT[1]), (hour >= MIDDAY[0]) & (hour < MIDDAY[1])
        asleep_then, out = sleeping[at], ~sleeping[at] & ~home[at]
        shares[agent] = (_mean(pd.Series(asleep_then[night])), _mean(pd.Series(out[noon])))
    return shares


def _places_per_day(events: pd.DataFrame, start: dt.datetime) -> dict[str, float]:
    """Per agent: mean distinct places a day, over the (calendar) days it lived in the log."""
    offset = start.hour * 3600 + start.minute * 60 + start.second
    seen: dict[tuple[str, int], set[str]] = {}
    for agent, place, since, until in presence(events).itertuples(index=False):
        first, last = int((since + offset) // DAY_S), int((max(until - 1e-6, since) + offset) // DAY_S)
        for day in range(first, last + 1):
            seen.setdefault((agent, day), set()).add(place)
    per_agent: dict[str, list[int]] = {}
    for (agent, _), places in sorted(seen.items()):
        per_agent.setdefault(agent, []).append(len(places))
    return {agent: float(np.mean(counts)) for agent, counts in per_agent.items()}


def _by_kind(events: pd.DataFrame, scenario: Scenario | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(lines with their repetition flags, activities with theirs, texts with their ungrounded names)."""
    said = events[events["kind"] == UTTERANCE]
    flags = repetition.repeated_lines(zip(said["agent"], (d["conversation"] for d in said["data"]),
                                          (d["text"] for d in said["data"])))
    lines = pd.DataFrame({"agent": said["agent"].to_list(),
                          "conversation": [d["conversation"] for d in said["data"]],
                          "repeated": [f[0] for f in flags], "loop": [f[1] for f in flags]})
    done = events[events["kind"] == ACTION]
    taken_up = repetition.repeated_activities(zip(done["agent"], (d["activity"] for d in done["data"])))
    actions = pd.DataFrame(taken_up, columns=["agent", "repeated"])
    known = grounding.vocabulary(scenario.model_dump(mode="json") if scenario is not None else {},
                                 zip(events["kind"], events["data"]))
    written = events[events["kind"].isin(grounding.TEXT_KINDS)]
    rows: list[dict[str, Any]] = []
    for agent, t, kind, data in zip(written["agent"], written["sim_time"], written["kind"], written["data"]):
        text = grounding.text_of(kind, data)
        names = grounding.ungrounded(text, known)
        rows.append({"agent": agent, "sim_time": t, "kind": kind, "names": names, "text": text,
                     "ungrounded": bool(names)})
    texts = pd.DataFrame(rows, columns=["agent", "sim_time", "kind", "names", "text", "ungrounded"])
    return lines, actions, texts


def _conversations(events: pd.DataFrame, people: list[str], lines: pd.DataFrame) -> dict[str, Any]:
    """Connectivity and conversation health."""
    ends = [d for d in events.loc[events["kind"] == CONVERSATION_END, "data"]]
    reasons = [str(d.get("reason", "")) for d in ends]
    counts = conversation_counts(events)
    nan = float("nan")

    def share(test: Any) -> float:
        return sum(1 for r in reasons if test(r)) / len(reasons) if reasons else nan

    loops = lines.groupby("conversation", sort=True)["loop"].any() if len(lines) else pd.Series(dtype=bool)
    return {
        "counts": counts,
        "density": density(conversation_pairs(events), len(people)) if len(people) > 1 else nan,
        "talked": sum(1 for a in people if counts.get(a, 0)) / len(people) if people else nan,
        "lines": float(np.mean([d["lines"] for d in ends])) if ends else nan,
        "decision": share(lambda r: r.endswith("ended it")),
        "goodbye": share(lambda r: r.endswith("said goodbye")),
        "limit": share(lambda r: r == "turn limit"),
        "loops": _mean(loops.astype(float)),
    }


def _answer_health(events: pd.DataFrame) -> list[tuple[str, float, str, str]]:
    """Parse failures, fallbacks and retries per 100 model calls (``sim.analysis.stats``)."""
    table = llm_stats(events[events["kind"].isin([LLM_CALL, PARSE_FAILED, FALLBACK])])
    total = table.loc["TOTAL"] if "TOTAL" in table.index else None
    calls = float(total["calls"]) if total is not None else 0.0

    def per_100(column: str) -> float:
        return 100.0 * float(total[column]) / calls if total is not None and calls else float("nan")

    unit = "per 100 calls"
    return [("parse failures", per_100("parse_failed"), unit, "model answers the parser rejected (then asked again)"),
            ("fallbacks", per_100("fallbacks"), unit, "answers that ended as the agent's plain default"),
            ("retries", per_100("retries"), unit, "attempts made again after a failed one (a fault on the way)")]
