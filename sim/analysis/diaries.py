"""What each agent lived through up to a time, read from a run's log in one pass: the ground truth of interviews.

Interview questions (``sim.analysis.questions``) need, per agent, where it was
and when, whom it talked to and what it heard, the plan in force, whom it
reacted to and how, and its memories. One query reads the kinds that say so,
up to the chosen moment, and each row goes to the diary it concerns (a line
of dialogue to its listener's too), so the cost per resident stays flat as the
town grows. What an agent knows of the town (people met, heard of or named in
its memories; places it knew at the start, learned, or went to) is kept too:
an answer naming anyone or anywhere else is a hallucination.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from typing import Any

from agentville.sim.core import events
from agentville.sim.core.location import Location, place_of
from agentville.sim.scenario.schema import PersonaSpec, Scenario
from agentville.sim.store.eventstore import EventStore
from agentville.sim.world.geography import World

from .naming import TownNames, name_words

KINDS_READ = [events.AGENT_ADDED, events.PLACED, events.ARRIVED, events.MOVE, events.ACTION, events.MEMORY,
              events.LEARNED_PLACE, events.PLAN, events.REACTION, events.CONVERSATION_START, events.UTTERANCE]


@dataclass(frozen=True)
class Stay:
    """The agent was at ``where`` from ``since`` until ``until`` (simulated seconds; None: still there)."""
    where: Location
    since: float
    until: float | None
    seq: int


@dataclass
class Talk:
    """A conversation the agent took part in, and the lines it heard from its partner (seq, text)."""
    conversation: str
    partner: str
    since: float
    place: str
    seq: int
    heard: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Row:
    """One logged fact of a diary: when, its seq, and its payload."""
    sim_time: float
    seq: int
    data: dict[str, Any]


@dataclass
class Diary:
    """One agent's day as the log tells it (rows in log order), and what it knows of the town."""
    name: str
    persona: PersonaSpec
    stays: list[Stay] = field(default_factory=list)
    talks: list[Talk] = field(default_factory=list)
    plans: list[Row] = field(default_factory=list)  # day plans and revisions (with a schedule)
    reactions: list[Row] = field(default_factory=list)  # with ``place`` and ``activity`` at the time added
    memories: list[Row] = field(default_factory=list)
    activity: str = ""
    known_people: set[str] = field(default_factory=set)
    known_places: set[str] = field(default_factory=set)

    def where(self) -> Location | None:
        return self.stays[-1].where if self.stays else None


@dataclass(frozen=True)
class Diaries:
    """Every resident's diary up to ``at``, with the town they lived in."""
    diaries: dict[str, Diary]
    world: World
    start: dt.datetime
    at: float  # simulated seconds from the start

    def clock(self, seconds: float) -> dt.datetime:
        return self.start + dt.timedelta(seconds=seconds)

    @functools.cached_property
    def resident_words(self) -> frozenset[str]:
        """The words of every resident's name (key words leave them out), made once."""
        return name_words(self.world.residents)


def read_diaries(store: EventStore, run: dict[str, Any], scenario: Scenario, at: dt.datetime | None = None) -> Diaries:
    """The diaries of run ``run`` (a row of ``EventStore.runs``) up to ``at`` (None: as far as the run went)."""
    start = dt.datetime.fromisoformat(run["sim_start"])
    until = (at - start).total_seconds() if at is not None else float(run.get("sim_reached") or 0.0)
    through = store.last_seq(run["run_id"], until=until)
    world = World(scenario)
    diaries = {p.name: _diary(p, world) for p in scenario.personas}
    for seq, t, kind, agent, data, _wall in store.event_rows(run["run_id"], kinds=KINDS_READ, through=through):
        if kind == events.AGENT_ADDED and agent is not None:
            persona = PersonaSpec(**data["persona"])
            world.add_resident(persona)
            diaries[agent] = _diary(persona, world)
        elif agent in diaries:
            _note(diaries, diaries[agent], seq, t, kind, data)
    names = TownNames(world.residents, {p.name: p.aliases for p in world.places.values()})
    for diary in diaries.values():
        persona = diary.persona
        texts = [persona.learned, persona.currently, persona.lifestyle, *persona.memories,
                 *(r.data["text"] for r in diary.memories), *(text for t in diary.talks for _, text in t.heard)]
        diary.known_people |= {name for text in texts for name in names.people_in(text)}
        diary.known_people = (diary.known_people & set(diaries)) - {diary.name}
    return Diaries(diaries, world, start, until)


def _diary(persona: PersonaSpec, world: World) -> Diary:
    return Diary(persona.name, persona, known_places=set(world.places_known_to(persona)))


def _note(diaries: dict[str, Diary], diary: Diary, seq: int, t: float, kind: str, data: dict[str, Any]) -> None:
    """File one row in the diary it concerns."""
    if kind in events.WHERE_LOCATED:
        _close_stay(diary, t)
        diary.stays.append(Stay(Location.parse(data["location"]), t, None, seq))
        diary.known_places.add(place_of(data["location"]))
    elif kind == events.MOVE:
        _close_stay(diary, t)
        diary.known_places |= set(data["route"])
    elif kind == events.ACTION:
        diary.activity = data["activity"]
    elif kind == events.LEARNED_PLACE:
        diary.known_places.add(data["place"])
    elif kind == events.PLAN and data["level"] in ("day", "revision"):
        diary.plans.append(Row(t, seq, data))
    elif kind == events.REACTION:
        where = diary.where()
        diary.reactions.append(Row(t, seq, {**data, "place": where.place if where else "",
                                            "activity": diary.activity}))
        diary.known_people.add(data["other"])
    elif kind == events.MEMORY:
        diary.memories.append(Row(t, seq, data))
    elif kind == events.CONVERSATION_START:
        for one, other in ((diary, data["partner"]), (diaries.get(data["partner"]), diary.name)):
            if one is not None:
                one.talks.append(Talk(data["conversation"], other, t, place_of(data["location"]), seq))
                one.known_people.add(other)
    elif kind == events.UTTERANCE and data["listener"] in diaries:
        listener = diaries[data["listener"]]
        talk = next((k for k in reversed(listener.talks) if k.conversation == data["conversation"]), None)
        if talk is not None:
            talk.heard.append((seq, data["text"]))


def _close_stay(diary: Diary, t: float) -> None:
    if diary.stays and diary.stays[-1].until is None:
        last = diary.stays[-1]
        diary.stays[-1] = Stay(last.where, last.since, t, last.seq)
