"""The town's changing state: who is where, what they are seen doing, and the state of objects.

``Town`` is the one owner of these facts and logs every change to them, so
the event log can rebuild the town at any moment. Agents change it only
through its methods (``place``, ``walk``, ``start_action``, ``set_object``).
Occupancy is kept as an index by area, updated on every move, so perception
costs the size of one area, never the size of the town. Each object knows who
is using it, so one agent leaving does not free an object someone else has
taken since.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from agentville.sim.core import events
from agentville.sim.core.location import Location

from .geography import World

Log = Callable[..., None]
AloneUntil = Callable[[str], float]  # the simulated second before which an agent said it would not walk away


@dataclass(frozen=True)
class Walk:
    """An agent on its way: where to, when it arrives, and the event of its arrival."""

    area: tuple[str, str]
    arrives: float
    arrival: simpy.Event


class BrokenPromise(RuntimeError):
    """An agent walked away before the moment it said it would stay until, or into someone else's room.

    Either is a bug in its cognition: the scheduler's lookahead relies on both never happening.
    """


class Town:
    def __init__(self, world: World, env: simpy.Environment, log: Log, alone_until: AloneUntil | None = None):
        self.world, self.env, self.log, self.alone_until = world, env, log, alone_until
        self.walking: dict[str, Walk] = {}  # who is on the way, and to where
        self.arriving: dict[tuple[str, str], set[str]] = {}  # who is on the way to each area
        self.locations: dict[str, Location] = {}
        self.activities: dict[str, str] = {}  # what each agent is seen doing (its last logged action)
        self.since: dict[str, float] = {}  # when each agent started what it is seen doing (the newest is news)
        self.object_states: dict[Location, str] = dict(world.default_states)
        self.users: dict[Location, dict[str, str]] = {}  # who uses each object (the latest last), in which state
        self._occupants: dict[tuple[str, str], set[str]] = {}

    # -- people ---------------------------------------------------------------
    def location(self, name: str) -> Location:
        return self.locations[name]

    def occupants(self, place: str, area: str) -> set[str]:
        """Names of the agents now in an area (not those walking to or from it)."""
        return self._occupants.get((place, area), set())

    def place(self, name: str, where: Location) -> None:
        """Put an agent somewhere without walking (where its life starts)."""
        self.locations[name] = where
        self._occupants.setdefault(where.area_key, set()).add(name)
        self.log(events.PLACED, name, location=str(where))

    def walk(self, name: str, target: Location) -> Generator[simpy.Event, Any, None]:
        """A simpy sub-process: walk to ``target`` along the shortest path, or step to it within an area.

        Walking (to another area) is logged as ``move`` then ``arrived``; a step
        to another object of the same area changes the location silently.
        While it walks, the agent is in no area: no one sees it or talks to it,
        and its arrival is known in advance (``walking``), which is what lets
        areas run on their own clocks (``sim.runtime.scheduler``).
        """
        origin = self.locations[name]
        if target.area_key == origin.area_key:
            self.locations[name] = target
            return
        if self.alone_until is not None and self.alone_until(name) > self.env.now + 1e-9:
            raise BrokenPromise(f"{name} walked away at {self.env.now:.0f} s although it said it would stay "
                                f"until {self.alone_until(name):.0f} s; the out-of-order engine relies on that")
        owners = self.world.private_areas.get(target.area_key)
        if owners and name not in owners:
            raise BrokenPromise(f"{name} walked into {target.place}: {target.area}, which is private to "
                                f"{', '.join(sorted(owners))}; the out-of-order engine relies on that")
        route, minutes = self.world.route(origin, target)
        if minutes > 0:
            self.log(events.MOVE, name, origin=str(origin), target=str(target), route=route,
                     minutes=round(minutes, 2))
        self._occupants.get(origin.area_key, set()).discard(name)
        arrival = self.env.timeout(minutes * 60)
        self.walking[name] = Walk(target.area_key, self.env.now + minutes * 60, arrival)
        self.arriving.setdefault(target.area_key, set()).add(name)
        yield arrival
        del self.walking[name]
        self.arriving[target.area_key].discard(name)
        self._occupants.setdefault(target.area_key, set()).add(name)
        self.locations[name] = target
        self.log(events.ARRIVED, name, location=str(target))

    def start_action(self, name: str, activity: str, description: str) -> None:
        self.activities[name] = activity
        self.since[name] = self.env.now
        self.log(events.ACTION, name, activity=activity, location=str(self.locations[name]),
                 description=description)

    # -- objects --------------------------------------------------------------
    def area_objects(self, place: str, area: str) -> dict[Location, str]:
        """The objects of one area and their states."""
        return {obj: self.object_states[obj] for obj in self.world.objects_in(place, area)}

    def user(self, where: Location) -> str | None:
        """Who is using an object now (its latest user), if anyone."""
        return next(reversed(self.users.get(where, {})), None)

    def set_object(self, where: Location, state: str | None, agent: str | None = None) -> None:
        """Change (or, with None, reset) an object's state and log it if it changed.

        An agent's state marks it as the object's latest user; its reset only
        takes its own use away: the object shows the use of whoever took it
        before and is still there, and returns to its default when no one is
        left. Without an agent (the experimenter), the state simply holds.
        """
        if not where.object:
            return
        users = self.users.setdefault(where, {})
        if agent is None:
            users.clear()
        elif state is not None:
            users.pop(agent, None)
            users[agent] = state
        elif agent in users:
            del users[agent]
            state = next(reversed(users.values()), None)
        else:
            return  # it was not using it (any more): someone else's use stands
        new = self.world.default_states[where] if state is None else state
        if self.object_states.get(where) == new:
            return
        self.object_states[where] = new
        self.log(events.OBJECT_STATE, agent, location=str(where), state=new)
