"""Plan adherence: whether residents did what their day plan said, at the clock's five-minute marks.

A resident's plan in force at a moment is its last ``plan`` row of level day or
revision logged by then: a revision's schedule (from its moment to bedtime)
replaces the rest of the day. The moments counted are those a block of that
plan covers (its waking day; the night after bedtime is no block's). The
resident keeps to its plan when its activity then shares a telling word with
the block's (``questions.key_words``, matched on stems as ``grading.says``:
"working" for "work at the cafe"), or is the block's word for word (a block
of no telling words: "going about the day"), or the block is sleep and it
sleeps. When the block says where, a place of the town (or an alias) after
"at", "in", "inside", "into" or "to" ("reading in the park", not "buying
supplies for the pub"), it must also be there (or on its way).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from agentville.sim.core.activities import is_sleep
from agentville.sim.core.events import PLAN
from agentville.sim.core.placenames import ARTICLES, name_key, words

from .grading import says
from .moments import DAY_S, Timeline, seconds_past_midnight
from .naming import name_words
from .questions import key_words
from .repetition import normalised, without_phase

WHERE = frozenset({"at", "in", "inside", "into", "to"})  # words before a place that say the block happens there
Block = tuple[float, float, str]  # start, end (simulated seconds), activity


def day_plans(events: pd.DataFrame, start: dt.datetime) -> dict[str, list[tuple[float, list[Block]]]]:
    """Per agent, in log order: (when it was logged, its schedule's blocks) for each day plan and revision."""
    offset = seconds_past_midnight(start)
    plans: dict[str, list[tuple[float, list[Block]]]] = {}
    rows = events[events["kind"] == PLAN]
    for agent, t, data in zip(rows["agent"], rows["sim_time"], rows["data"]):
        if data.get("level") in ("day", "revision") and "schedule" in data:
            day = (dt.date.fromisoformat(data["date"]) - start.date()).days if data.get("date") else None
            plans.setdefault(agent, []).append((float(t), _blocks(data["schedule"], float(t) + offset, day, offset)))
    return plans


def _blocks(schedule: list[dict[str, str]], logged: float, day: int | None, offset: float) -> list[Block]:
    """Schedule rows ("HH:MM" times) as simulated seconds: the first start on the plan's date (without one, the
    nearest to when it was logged), each later time the first at or after the one before."""
    blocks: list[Block] = []
    before: float | None = None
    for row in schedule:
        begin = _minute(row["start"]) * 60.0
        if before is None:
            days = day if day is not None else round((logged - begin) / DAY_S)
            begin += days * DAY_S
        else:
            begin += -(-(before - begin) // DAY_S) * DAY_S
        finish = _minute(row["end"]) * 60.0
        finish += -(-(begin - finish) // DAY_S) * DAY_S
        blocks.append((begin - offset, finish - offset, row["activity"]))
        before = begin
    return blocks


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class Fit:
    """Whether an activity fits a block, worked out once per (activity, block, asleep, place) and remembered."""

    def __init__(self, residents: Sequence[str], places: Mapping[str, str]) -> None:
        """``places``: every name of a place of the town (aliases too) and the place it names."""
        self.residents, self.places = name_words(residents), [(p, name_key(n).split()) for n, p in places.items()]
        self.known: dict[tuple[str, str, bool, str | None], bool] = {}
        self.blocks: dict[str, tuple[tuple[str, ...], bool, set[str], str]] = {}

    def __call__(self, activity: str, block: str, asleep: bool, place: str | None) -> bool:
        key = (activity, block, asleep, place)
        if key not in self.known:
            self.known[key] = self._fits(activity, block, asleep, place)
        return self.known[key]

    def _fits(self, activity: str, block: str, asleep: bool, place: str | None) -> bool:
        if block not in self.blocks:
            said = words(block)
            self.blocks[block] = (key_words(block, self.residents), is_sleep(block),
                                  {p for p, key in self.places if key and _there(said, key)}, normalised(block))
        keys, sleep, named, text = self.blocks[block]
        if sleep and asleep:
            return True
        if named and place is not None and place not in named:
            return False
        doing = words(activity)
        return normalised(without_phase(activity)) == text or any(says(doing, k) for k in keys)


def _there(said: list[str], key: list[str]) -> bool:
    """Whether the words ``said`` name the place ``key`` (its words) as where: after "at", "in", ..., an article
    between them or not."""
    for i in range(1, len(said) - len(key) + 1):
        if said[i:i + len(key)] == key:
            before = said[i - 2] if said[i - 1] in ARTICLES and i >= 2 else said[i - 1]
            if before in WHERE:
                return True
    return False


def adherence(lines: dict[str, Timeline], plans: dict[str, list[tuple[float, list[Block]]]], people: list[str],
              fit: Fit, end: float, offset: float) -> dict[str, tuple[int, int]]:
    """Per resident with a plan: (moments a block of its plan covered, those in which it kept to it)."""
    shares = {}
    for agent in people:
        line, made = lines.get(agent), plans.get(agent)
        if line is None or not made:
            continue
        grid, at = line.marks(end, offset)
        logged = np.asarray([t for t, _ in made])
        which = np.searchsorted(logged, grid, side="right") - 1
        kept = []
        for moment, state, plan in zip(grid, at, which):
            block = next((b for b in made[plan][1] if b[0] <= moment < b[1]), None) if plan >= 0 else None
            if block is not None:
                kept.append(fit(line.activities[state], block[2], bool(line.asleep[state]), line.places[state]))
        shares[agent] = (len(kept), sum(kept))
    return shares
