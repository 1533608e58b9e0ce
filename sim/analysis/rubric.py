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

from agentville.sim.core.events import (
    ACTION,
    AGENT_ADDED,
    CONVERSATION_END,
    FALLBACK,
    LLM_CALL,
    PARSE_FAILED,
    PLACED,
    RUN_STARTED,
    UTTERANCE,
)
from agentville.sim.core.location import place_of
from agentville.sim.scenario.schema import Scenario
from agentville.sim.scenario.stored import scenario_or_warning
from agentville.sim.store.eventstore import EventStore

from . import grounding, repetition
from .adherence import Fit, adherence, day_plans
from .encounters import conversation_counts, conversation_pairs, density, presence
from .likeness import day_words, distinctiveness
from .meals import meal_times
from .moments import DAY_S, Timeline, seconds_past_midnight, timelines, town_places
from .provenance import residents
from .stats import llm_stats

COLUMNS = ["measure", "value", "unit", "what"]
AGENT_COLUMNS = ["agent", "asleep_at_night", "out_at_midday", "places_per_day", "meals_per_day", "meals_on_time",
                 "plan_adherence", "repeated_lines", "repeated_activities", "conversations", "ungrounded_texts"]
UNGROUNDED_COLUMNS = ["agent", "sim_time", "kind", "name", "text"]
NIGHT, MIDDAY = (1, 5), (11, 14)  # clock hours [from, to): asleep then; awake and out then


@dataclass(frozen=True)
class Rubric:
    """A run's rubric: the measures, the same per resident, and every ungrounded name with its text."""

    measures: pd.DataFrame
    agents: pd.DataFrame
    ungrounded: pd.DataFrame


def run_rubric(store: EventStore, run_id: str | None = None, scenario: Scenario | None = None) -> Rubric:
    """The rubric of a stored run (the newest when ``run_id`` is None), with the scenario stored with it
    (or ``scenario``, the same already loaded: reading a big town's stored YAML again takes seconds)."""
    run = store.run(run_id)
    if scenario is None:
        scenario, _ = scenario_or_warning(run)
    return rubric(store.events(run["run_id"]), scenario)


def rubric(events: pd.DataFrame, scenario: Scenario | None = None, until: float | None = None) -> Rubric:
    """The rubric of one run's events; ``scenario`` grounds names and homes (without it, a resident's home
    is where it was first placed, and only the log's own words ground names). ``until``: the simulated second
    the log reached (None: its last row's), so a log cut at a moment is looked at up to that moment."""
    events = events.sort_values("seq")
    people = residents(events)
    start = start_of(events)
    homes = _homes(events, scenario)
    lived, offset = timelines(events), seconds_past_midnight(start)
    end = until if until is not None else float(events["sim_time"].max()) if len(events) else 0.0
    day = _day_shares(lived, people, homes, end, offset)
    meals = meal_times(lived, people, end, offset)
    places_named = town_places(events, scenario)
    kept = adherence(lived, day_plans(events, start), people, Fit(people, places_named), end, offset)
    places = _places_per_day(events, offset)
    lines, actions, texts = _by_kind(events, scenario)
    talks = _conversations(events, people, lines)
    answers = _answer_health(events)
    agents = pd.DataFrame({"agent": people})
    agents["asleep_at_night"] = [day[a][0] for a in people]
    agents["out_at_midday"] = [day[a][1] for a in people]
    agents["places_per_day"] = [places.get(a, np.nan) for a in people]
    agents["meals_per_day"] = [_ratio(meals[a][0], meals[a][2]) if a in meals else np.nan for a in people]
    agents["meals_on_time"] = [_ratio(meals[a][1], meals[a][0]) if a in meals else np.nan for a in people]
    agents["plan_adherence"] = [_ratio(kept[a][1], kept[a][0]) if a in kept else np.nan for a in people]
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
        ("meals on time", _ratio(sum(m[1] for m in meals.values()), sum(m[0] for m in meals.values())), "share",
         "of meals residents started within their meal's window (breakfast 05:00-10:30, lunch 11:00-15:00, "
         "dinner 17:00-21:30; an unnamed meal, any)"),
        ("meals per day", _ratio(sum(m[0] for m in meals.values()), sum(m[2] for m in meals.values())), "meals",
         "meals started per resident-day in the log (a partial day counts in part)"),
        ("plan adherence", _ratio(sum(k[1] for k in kept.values()), sum(k[0] for k in kept.values())), "share",
         "of agent-moments a block of the day plan covered in which the agent did what it said (a telling word "
         "in common, or asleep for sleep; there, when it says where)"),
        ("distinctiveness", distinctiveness(day_words(events, people, [*people, *places_named]), _seed(events)),
         "share", "one less the mean Jaccard similarity of two residents' activity words (at most 200 pairs)"),
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


def _ratio(part: float, whole: float) -> float:
    return float(part / whole) if whole else float("nan")


def _seed(events: pd.DataFrame) -> int:
    """The run's seed (from its ``run_started`` row; 0 without one)."""
    started = events.loc[events["kind"] == RUN_STARTED, "data"]
    return int(started.iloc[0].get("seed", 0)) if len(started) else 0


def _share(table: pd.DataFrame, agent: str, column: str) -> float:
    return _mean(table.loc[table["agent"] == agent, column]) if len(table) else float("nan")


def start_of(events: pd.DataFrame) -> dt.datetime:
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


def _day_shares(lines: dict[str, Timeline], people: list[str], homes: dict[str, str], end: float,
                offset: int) -> dict[str, tuple[float, float]]:
    """Per resident: (share of night moments asleep, share of midday moments awake and away from home)."""
    shares = {}
    for agent in people:
        line = lines.get(agent)
        if line is None:
            shares[agent] = (float("nan"), float("nan"))
            continue
        grid, at = line.marks(end, offset)
        home = np.asarray([place is not None and place == homes.get(agent) for place in line.places], dtype=bool)
        hour = ((grid + offset) % DAY_S) // 3600
        night, noon = (hour >= NIGHT[0]) & (hour < NIGHT[1]), (hour >= MIDDAY[0]) & (hour < MIDDAY[1])
        asleep_then, out = line.asleep[at], ~line.asleep[at] & ~home[at]
        shares[agent] = (_mean(pd.Series(asleep_then[night])), _mean(pd.Series(out[noon])))
    return shares


def _places_per_day(events: pd.DataFrame, offset: int) -> dict[str, float]:
    """Per agent: mean distinct places a day, over the (calendar) days it lived in the log."""
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
