"""How an agent lives its day: the plan worked through step by step, or (planning off) moment to moment.

The loop over the day sits above planning and acting: it asks ``planning``
for the hour's place and steps (prepared ahead where it can) and hands each
step to ``acting``, which may be interrupted by what the agent sees or hears.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from agentville.sim.core import events

from .acting import act, sleep_until
from .llm.asking import Unparseable, ask
from .llm.templates import render
from .llm.timing import DECIDING_S
from .planning import ahead, schedule
from .planning.days import routine_activity
from .planning.places import choose_location
from .planning.revision import needs_line, revise
from .planning.schedule import is_sleep
from .planning.steps import decompose

if TYPE_CHECKING:
    from agentville.sim.context import SubProcess

    from .generative import GenerativeAgent
    from .planning.schedule import DayPlan

REACTIVE_STEP_MINUTES = 15  # with planning off, how far ahead an agent decides


def live_day(agent: GenerativeAgent) -> SubProcess[None]:
    """Work through the schedule until bedtime, an hour's chunk at a time."""
    ctx = agent.ctx
    while ctx.now < _today(agent).bedtime:
        agent.maybe_reflect()
        if agent.planning.replan_reason:
            yield from revise(agent, agent.planning.replan_reason)
        plan = _today(agent)
        now = ctx.now
        if now >= plan.bedtime:
            break
        block, chunk_end, minutes = schedule.chunk_at(plan.blocks, plan.bedtime, now)
        prepared = ahead.take(agent, block)
        if minutes < 1:
            yield ctx.timeout(chunk_end - now)
            continue
        if prepared is not None:  # thought out during the last step (it may have ended a little off schedule)
            where, steps = yield prepared.ready
            if minutes <= schedule.STEP_MINUTES[1]:
                steps = [(block.activity, minutes)]
            else:
                steps = schedule.fit_durations(steps, minutes, block.activity)
        else:
            where = yield from choose_location(agent, block.activity, due=now + DECIDING_S)
            # each decision takes a moment from when it is asked (the place may have taken one already)
            steps = yield from decompose(agent, block.activity, minutes, where, start=now, due=ctx.now + DECIDING_S)
        if minutes > schedule.STEP_MINUTES[1]:
            ctx.log(events.PLAN, agent.name, level="steps", activity=block.activity, minutes=minutes,
                    steps=[{"activity": a, "minutes": m} for a, m in steps])
        agent.promises.chunk_ends = now + minutes * 60  # every step ends no sooner than planned (``act``)
        for index, (activity, step_minutes) in enumerate(steps):
            if index == len(steps) - 1:
                ahead.prepare(agent, plan, ctx.now + step_minutes * 60)
            interrupted = yield from act(agent, activity, step_minutes, where)
            if interrupted or agent.planning.replan_reason:
                break
            agent.maybe_reflect()
        agent.promises.chunk_ends = 0.0


def _today(agent: GenerativeAgent) -> DayPlan:
    plan = agent.planning.plan
    assert plan is not None, "a day is lived after it is planned"
    return plan


def live_moment_to_moment(agent: GenerativeAgent) -> SubProcess[None]:
    """The no-planning ablation: every quarter of an hour, decide what to do next."""
    ctx = agent.ctx
    while True:
        agent.maybe_reflect()
        now = ctx.clock.at(ctx.now)
        recent = agent.recall(f"what {agent.name} should do at {now:%H:%M}", k=5)
        plain = routine_activity(agent.persona, now.hour * 60 + now.minute)
        activity = yield from ask(
            ctx, agent.name, render("next_action", persona=agent.persona_text, name=agent.name,
                                    time=now.strftime("%A %H:%M"), place=agent.location.place,
                                    needs=needs_line(agent),
                                    memories="\n".join(f"- {m.text}" for m in recent) or "- nothing yet"),
            _activity, purpose="next_action", max_tokens=24, stop=("\n",), default=f" {plain}")
        if is_sleep(activity):
            yield from sleep_until(agent, ctx.now + 3600)
            continue
        where = yield from choose_location(agent, activity)
        yield from act(agent, activity, REACTIVE_STEP_MINUTES, where)



def _activity(text: str) -> str:
    activity = schedule.clean_activity(text.strip().splitlines()[0] if text.strip() else "")
    if len(activity) < 3:
        raise Unparseable("no activity")
    return activity
