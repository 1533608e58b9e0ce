"""The steps of an hour: a block of the schedule broken into 5-15 minute steps when it is reached.

``days`` asks for them when a block begins, ``ahead`` during the last step of
the block before; both go through ``decompose``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentville.agents.llm import shapes
from agentville.agents.llm.asking import LIST_END, ask, not_copied
from agentville.agents.llm.templates import render

from . import schedule

if TYPE_CHECKING:
    from agentville.agents.generative import GenerativeAgent
    from agentville.sim.context import SubProcess
    from agentville.sim.core.location import Location


def decompose(agent: GenerativeAgent, activity: str, minutes: int, where: Location, *, start: float | None = None,
              due: float | None = None) -> SubProcess[list[tuple[str, int]]]:
    """A simpy sub-process: ``minutes`` of ``activity`` from ``start`` (default now) as 5-15 minute steps.

    The steps add up to exactly ``minutes``; ``due`` is when they are needed.
    """
    if minutes <= schedule.STEP_MINUTES[1]:
        return [(activity, minutes)]
    ctx = agent.ctx
    begins = ctx.clock.at(ctx.now if start is None else start)

    def parse(text: str) -> list[tuple[str, int]]:
        return schedule.fit_durations(schedule.parse_steps(text), minutes, activity)

    # Who does it and where (the object too): a barista serving coffee serves it, she does not drink it.
    steps = yield from ask(
        ctx, agent.name, render("decompose", persona=agent.persona_text, name=agent.name, activity=activity,
                                time=begins.strftime("%H:%M"), minutes=minutes, place=place_text(where)),
        parse, check=not_copied("decompose"), purpose="decompose", max_tokens=128, stop=LIST_END, prefix="-",
        shape=shapes.steps(128),
        default=schedule.default_steps(activity, minutes), due=due, listing=True)
    return steps


def place_text(where: Location) -> str:
    """``at Hobbs Cafe, in the cafe, at the cafe counter``: the place tree as a prompt says it."""
    return ", ".join([f"at {where.place}", f"in the {where.area}"] + [f"at the {where.object}"] * bool(where.object))
