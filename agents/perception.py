"""Perception: what an agent notices around it.

An agent sees the other agents and the objects in its own area (the
reference's vision is a radius on a tile map; here the area is the unit). It
attends to at most ``bandwidth`` things at a time, and a thing it has already
seen in the same state is not news, so it is not perceived again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentville.sim.context import AgentContext
    from agentville.sim.location import Location

ATTENTION_BANDWIDTH = 3


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

    def notice(self, ctx: AgentContext, where: Location) -> list[Observation]:
        """New observations in ``where``'s area, people first, at most ``bandwidth``."""
        seen: list[Observation] = []
        for other in sorted(ctx.town.occupants(where.place, where.area) - {self.name}):
            activity = ctx.town.activities.get(other)
            if activity:
                seen.append(Observation(other, f"{other} is {activity}"))
        for obj, state in sorted(ctx.town.area_objects(where.place, where.area).items()):
            if obj != where and state != ctx.world.default_states[obj]:  # not the thing it is using itself
                seen.append(Observation(str(obj), f"the {obj.object} is {state}"))
        news = [o for o in seen if self.last_seen.get(o.subject) != o.text][: self.bandwidth]
        for observation in news:
            self.last_seen[observation.subject] = observation.text
        return news
