"""Commitments: what an agent has heard of or decided for a given day and hour.

An invitation heard in a conversation, or a thought, often names a day and a
time ("a Valentine's Day party at Hobbs Cafe on February 14th from 5 pm to
7 pm"). The model sees such memories among those its day plan draws on. The
plain plan (the fake backend's, and a failing model's) must not forget them
either, or nobody invited would ever come: on that day they become a stroke
of the day plan and a line of its schedule, and the habitual day resumes
when the event is over.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .schedule import clock_minute, is_sleep

if TYPE_CHECKING:
    from agentville.agents.generative import GenerativeAgent
    from agentville.agents.memory.stream import MemoryNode

LOOKED_AT = 60  # the latest thoughts and things heard that are looked at, besides those recalled
DEFAULT_MINUTES = 120  # how long an event lasts when the text gives no end
_EVENT = re.compile(r"\b(?:a|an|the|her|his|their|our|my)\s+((?:[\w'-]+\s+){0,3}?(?:party|dinner|lunch|breakfast|"
                    r"meeting|gathering|celebration|concert|show|class|lecture|game|festival|fair|reading|"
                    r"talk|debate|rally|screening|picnic|exhibition|opening))\b", re.I)
_TIME = r"(\d{1,2})(?::(\d\d))?\s*(am|pm|a\.m\.|p\.m\.)"
_SPAN = re.compile(rf"\b{_TIME}(?:\s*(?:to|until|till|-|–)\s*{_TIME})?", re.I)


@dataclass(frozen=True)
class Commitment:
    start: int  # minute of the day
    end: int
    activity: str
    event: str = ""  # the word that names it ("party"): a schedule line with it keeps the commitment


def for_day(agent: GenerativeAgent, day: dt.date, memories: list[MemoryNode]) -> list[Commitment]:
    """What the agent's thoughts and what it heard (``memories`` plus the latest) promise for ``day``, in order."""
    latest = agent.memory.recent(LOOKED_AT, kinds=("thought", "chat")) if agent.cognition.memory else []
    found: dict[int, Commitment] = {}
    for memory in [*memories, *latest]:
        if memory.kind not in ("thought", "chat") or not _names_day(memory.text, day, agent, memory):
            continue
        commitment = read(memory.text, agent)
        if commitment is not None:
            found.setdefault(commitment.start, commitment)
    return [found[m] for m in sorted(found)]


def read(text: str, agent: GenerativeAgent) -> Commitment | None:
    """The event a text promises, its hours and where, as an activity; None without an event and a time."""
    event, span = _EVENT.search(text), _SPAN.search(text)
    if event is None or span is None:
        return None
    start = clock_minute(int(span.group(1)), int(span.group(2) or 0), span.group(3))
    end = clock_minute(int(span.group(4)), int(span.group(5) or 0), span.group(6)) if span.group(4) else None
    if start is None:
        return None
    end = end if end is not None and end > start else start + DEFAULT_MINUTES
    places = [p for p in agent.ctx.world.places_named_in(text) if p.lower() not in event.group(1).lower()]
    where = f" at {places[0]}" if places else ""
    return Commitment(start, min(end, 1440), f"going to the {event.group(1)}{where}", event.group(1).split()[-1])


def _names_day(text: str, day: dt.date, agent: GenerativeAgent, memory: MemoryNode) -> bool:
    """Whether ``text`` speaks of ``day``: its date ("February 14th", "Feb 14"), its weekday, or "tomorrow"
    in a memory of the day before."""
    month, number = day.strftime("%B"), day.day
    nth = rf"{number}(?:st|nd|rd|th)?"
    date = rf"\b(?:{month}|{month[:3]})\.?\s+{nth}\b|\b{nth}\s+(?:of\s+)?{month}\b"
    if re.search(date, text, re.I) or re.search(rf"\b{day:%A}\b", text, re.I):
        return True
    heard_on = agent.ctx.clock.at(memory.created).date()
    return heard_on == day - dt.timedelta(days=1) and re.search(r"\btomorrow\b", text, re.I) is not None


def fit(lines: list[str], woke: int, commitments: list[Commitment], bed: int) -> list[str]:
    """Schedule lines (``HH:MM activity``, in order from ``woke``) with each commitment in its hours, before
    ``bed`` (minutes after ``woke``'s midnight), and what the habit has the agent doing resumed after it."""
    def offset(minute: int) -> int:
        return (minute - woke) % 1440

    entries = sorted(((int(line[:2]) * 60 + int(line[3:5]), line[6:]) for line in lines), key=lambda e: offset(e[0]))
    for c in commitments:
        if not offset(c.start) < offset(bed % 1440) or offset(c.start) == 0:
            continue
        before = [a for m, a in entries if offset(m) <= offset(c.end)]
        inside = [(m, a) for m, a in entries if offset(c.start) <= offset(m) < offset(c.end)]
        entries = [e for e in entries if e not in inside] + [(c.start, c.activity)]
        if before and offset(c.end) < offset(bed % 1440) and all(offset(m) != offset(c.end) for m, _ in entries):
            entries.append((c.end % 1440, before[-1] if before[-1] != c.activity else "going about the day"))
        entries.sort(key=lambda e: offset(e[0]))
    return [f"{m // 60:02d}:{m % 60:02d} {a}" for m, a in entries]


def kept(entries: list[tuple[float, str]], midnight: float, commitments: list[Commitment]) -> list[tuple[float, str]]:
    """A model's schedule (``(simulated second, activity)`` entries of the day from ``midnight``) with each
    commitment it left out put in its hours, and what it had the agent doing then resumed after it.

    A small model often writes its usual day and forgets the party it was told of; the agent does not. A
    commitment counts as planned when a line from half an hour before it names its event; one before the
    schedule's first line or after its bedtime (its first line about sleeping) is left alone.
    """
    if not entries:
        return entries
    bed = next((at for at, activity in entries[1:] if is_sleep(activity)), math.inf)
    for c in commitments:
        start, end = midnight + c.start * 60, midnight + c.end * 60
        planned = any(start - 1800 <= at < end and c.event.lower() in activity.lower() for at, activity in entries)
        if planned or not entries[0][0] < start < bed:
            continue
        doing = [activity for at, activity in entries if at <= end][-1]
        entries = [e for e in entries if not start <= e[0] < end] + [(start, c.activity)]
        if end < bed and all(at != end for at, _ in entries):
            entries.append((end, doing if doing != c.activity else "going about the day"))
        entries.sort(key=lambda e: e[0])
    return entries
