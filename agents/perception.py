"""Perception: what an agent notices around it, itself included.

An agent sees the other agents and the objects in its own area (the
reference's vision is a radius on a tile map; here the area is the unit). It
attends to at most ``bandwidth`` things at a time, the most salient first:
people before objects; among people, those dealing with it (at its object,
or doing something with it) first, then the others, whoever started
something newest first; among objects, the one it is about to use first. A
thing it has already seen in the same state is not news, so it is not
perceived again, and an object in use by someone in view is not news either
(that person's activity already says so).

Like the reference, the agent also perceives its own action. What it starts
doing is news only when it is not among the last few things it started (the
reference's retention): an activity is remembered once, not once per step of
it, nor again each hour of a long block split into the same few steps.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentville.sim.context.protocols import AgentContext
    from agentville.sim.core.location import Location

ATTENTION_BANDWIDTH = 3
RETENTION = 5  # own activities remembered as recent: starting one of them again is not news


@dataclass(frozen=True)
class Observation:
    subject: str  # an agent's name or an object's location
    text: str


@dataclass
class Perception:
    """One agent's senses, with the memory of what it last saw of each subject."""

    name: str
    bandwidth: int = ATTENTION_BANDWIDTH
    last_seen: dict[str, str] = field(default_factory=dict)
    own: deque[str] = field(default_factory=lambda: deque(maxlen=RETENTION))  # what it last started, newest last

    def notice(self, ctx: AgentContext, where: Location) -> list[Observation]:
        """New observations in ``where``'s area, the most salient first, at most ``bandwidth``."""
        town = ctx.town
        people = sorted(town.occupants(where.place, where.area) - {self.name},
                        key=lambda other: (not self._dealing_with_me(ctx, other, where),
                                           -town.since.get(other, 0.0), other))
        seen = [Observation(other, f"{other} is {town.activities[other]}") for other in people
                if town.activities.get(other)]
        in_view = set(people)
        objects = sorted(town.area_objects(where.place, where.area).items(), key=lambda o: (o[0] != where, str(o[0])))
        for obj, state in objects:
            user = town.user(obj)
            if user == self.name or user in in_view:  # its own use, or one its user's activity tells
                continue
            if state != ctx.world.default_states[obj]:
                seen.append(Observation(str(obj), f"the {obj.object} is {state}"))
        news = [o for o in seen if self.last_seen.get(o.subject) != o.text][: self.bandwidth]
        for observation in news:
            self.last_seen[observation.subject] = observation.text
        return news

    def _dealing_with_me(self, ctx: AgentContext, other: str, where: Location) -> bool:
        """Is ``other`` at the object this agent uses, or doing something that names it (talking with it...)?"""
        return ((where.object is not None and ctx.town.locations.get(other) == where)
                or self.name in ctx.town.activities.get(other, ""))

    def notice_self(self, activity: str, where: Location) -> Observation | None:
        """The agent's own action, when it starts something it has not just been doing (None otherwise)."""
        if activity in self.own:
            return None
        self.own.append(activity)
        return Observation(self.name, f"{self.name} is {activity} at {where.place}")
