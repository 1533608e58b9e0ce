"""Thinking ahead: the next chunk of the day is prepared while the current one is still being lived.

Where the next activity happens and how it splits into 5-15 minute steps
depend only on the plan, so the agent asks for them as soon as it starts the
last step of the current chunk, and needs them only when that step ends:
the place-tree choices are each due halfway to then, the decomposition
exactly then. Meanwhile the requests are in flight with everyone else's, so
the shared workers can batch them. If the plan changes in between (a
conversation, a thought), what was prepared no longer fits and is dropped;
the agent then prepares the chunk the ordinary way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from . import schedule
from .places import choose_location
from .schedule import Block

if TYPE_CHECKING:
    from agentville.agents.generative import GenerativeAgent
    from agentville.sim.context import SubProcess
    from agentville.sim.core.location import Location

    from .schedule import DayPlan


@dataclass
class NextChunk:
    """A chunk being prepared: for which block, and the process finding (where, steps)."""

    block: Block
    ready: simpy.Process


def prepare(agent: GenerativeAgent, plan: DayPlan, start: float) -> None:
    """Start preparing the chunk that begins at ``start`` (when the current step should end)."""
    if start >= plan.bedtime:
        return
    block, _, minutes = schedule.chunk_at(plan.blocks, plan.bedtime, start)
    if minutes < 1:
        return
    process = agent.ctx.process(_prepare(agent, block.activity, minutes, start))
    agent.planning.next_chunk = NextChunk(block, process)


def take(agent: GenerativeAgent, block: Block) -> NextChunk | None:
    """What was prepared for ``block``, if that is what comes now; forgotten either way.

    A revised plan that still has the same block there keeps what was prepared for it.
    """
    planning = agent.planning
    prepared, planning.next_chunk = planning.next_chunk, None
    if prepared is not None and prepared.block == block:
        return prepared
    return None


def _prepare(agent: GenerativeAgent, activity: str, minutes: int,
             start: float) -> SubProcess[tuple[Location, list[tuple[str, int]]]]:
    from .steps import decompose

    where = yield from choose_location(agent, activity, due=start)
    steps = yield from decompose(agent, activity, minutes, where, start=start, due=start)
    return where, steps
