"""Where an agent does something: a walk down the place tree (place, area, object).

Only places the agent knows are candidates (its home, routine, texts, and
its ``knows`` or the town's public places: ``World.places_known_to``; more
as it hears of them), and only areas that are no one else's room: a room
named for several residents ("Mei and John Lin's bedroom") is each one's.
Habits and plain words come first: an activity from the persona's routine
happens where it always does, and one that names a known place (as people
do: ``World.places_named_in``), area or object happens there; the model
chooses the rest, one level at a time. Choices are remembered per activity
(``agent.planning.where_for``), so a repeated activity costs no model call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentville.agents.llm.templates import render
from agentville.sim.core.location import Location

if TYPE_CHECKING:
    from agentville.agents.generative import GenerativeAgent
    from agentville.sim.context import SubProcess


def choose_location(agent: GenerativeAgent, activity: str, due: float | None = None) -> SubProcess[Location]:
    """A simpy sub-process: where ``activity`` happens (a known place, one of its areas, maybe an object).

    With ``due`` (thinking ahead, see ``ahead``), each level's answer is due
    halfway between its asking and ``due``, so the whole walk is done by then.
    """
    key, chosen = activity.lower(), agent.planning.where_for
    if key in chosen:
        return chosen[key]
    ctx, world = agent.ctx, agent.ctx.world
    habit = next((s for s in agent.persona.routine if s.activity.lower() == key), None)
    if habit is not None:
        where = world.resolve(habit.place, agent.home)
        chosen[key] = where
        return where
    here = str(agent.location)
    named = [p for p in world.places_named_in(activity) if p in agent.known_places]
    if named:
        place = max(named, key=len)
    else:
        places = sorted(agent.known_places)
        usual = "; ".join(f"{s.activity} at {world.resolve(s.place, agent.home).place}"
                          for s in agent.persona.routine[:8])
        place = yield ctx.llm.choice(
            render("location", name=agent.name, here=here, activity=activity, what="place",
                   usual=f"Usually, {agent.name} goes {usual}." if usual else "",
                   choices_label=f"Places {agent.name} knows", choices=", ".join(places)),
            places, purpose="location_place", agent=agent.name, default=agent.location.place, due=_halfway(agent, due))
    owners = world.private_areas
    areas = [a for a in world.places[place].areas if agent.name in owners.get((place, a.name), {agent.name})]
    if not areas:  # every part of that place is someone else's room: it does this where it is
        chosen[key] = agent.location
        return agent.location
    area = yield from _pick(agent, [a.name for a in areas], key, f"part of {place}", f"Parts of {place}", activity,
                            "location_area", agent.home.area if place == agent.home.place else areas[0].name, due)
    objects = [o.name for o in next(a for a in areas if a.name == area).objects]
    obj = (yield from _pick(agent, objects, key, "thing to use", f"Things in the {area} of {place}", activity,
                            "location_object", objects[0], due)) if objects else None
    where = Location(place, area, obj)
    chosen[key] = where
    return where


def _halfway(agent: GenerativeAgent, due: float | None) -> float | None:
    now = agent.ctx.now
    return None if due is None else now + max(0.0, due - now) / 2


def _pick(agent: GenerativeAgent, options: list[str], key: str, what: str, label: str, activity: str, purpose: str,
          default: str, due: float | None = None) -> SubProcess[str]:
    """One level of the place tree: the only option, the one the activity names, or the model's choice."""
    if len(options) == 1:
        return options[0]
    named = [o for o in options if o.lower() in key]
    if named:
        return max(named, key=len)
    answer = yield agent.ctx.llm.choice(
        render("location", name=agent.name, here=str(agent.location), activity=activity, what=what, usual="",
               choices_label=label, choices=", ".join(options)),
        options, purpose=purpose, agent=agent.name, default=default if default in options else options[0],
        due=_halfway(agent, due))
    return answer
