"""An agent's days: when it wakes up, what it plans, how it lives the plan out, how it revises it.

Planning goes top-down, as in the reference: on waking, a day plan in broad
strokes and an hourly schedule, both drawing on what the agent remembers;
each hour's block is broken into 5-15 minute steps only when it is reached
(plans made far ahead are mostly thrown away by reactions); after a
conversation or a thought, the rest of the day is revised. With planning
switched off (the ablation), the agent instead decides every quarter of an
hour what to do next. ``planning`` holds the parsers; this module holds the
agent's side: the prompts, the plain answers and the loop over the day.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentville.sim import events

from . import ahead, planning
from .acting import act, sleep_until
from .asking import LIST_END, Unparseable, ask
from .places import choose_location
from .planning import Block, is_sleep
from .templates import copied_from_example, render
from .timing import DECIDING_S

if TYPE_CHECKING:
    import simpy

    from agentville.sim.context import AgentContext
    from agentville.sim.location import Location
    from agentville.sim.scenario import PersonaSpec, RoutineStep

    from .generative import GenerativeAgent
    from .protocols import SubProcess

REACTIVE_STEP_MINUTES = 15  # with planning off, how far ahead an agent decides
LAST_HOUR_S = 3600  # a day with less than this left before bedtime is not begun: the agent sleeps to the next


@dataclass
class DayPlan:
    date: dt.date
    midnight: float
    wake: float
    strokes: list[str]
    blocks: list[Block]
    bedtime: float


# -- waking up and planning the day ----------------------------------------------
def choose_wake(agent: GenerativeAgent, day: dt.date, due: float | None = None) -> SubProcess[float]:
    """A simpy sub-process: the simulated second the agent wakes up on ``day`` (decided by ``due``)."""
    habit = re.search(r"wakes? up (?:at |around |about )?(\d{1,2})", agent.persona.lifestyle)
    usual = int(habit.group(1)) if habit and 4 <= int(habit.group(1)) <= 11 else 7
    # Within an hour of the habit: small models pick hours almost at random otherwise.
    hours = tuple(str(h) for h in range(max(4, usual - 1), min(11, usual + 1) + 1))
    hour = yield agent.ctx.llm.choice(
        render("wake_up", persona=agent.persona_text, name=agent.name, day=f"{day:%A, %B %d}",
               first=hours[0], last=hours[-1]),
        hours, purpose="wake_up", agent=agent.name, default=str(usual), due=due)
    return _midnight(agent.ctx, day) + int(hour) * 3600


def day_over(agent: GenerativeAgent, day: dt.date, moment: float) -> bool:
    """Whether ``day`` is (all but) over at ``moment``: within an hour of the persona's habitual bedtime, or past it.

    An agent starting, or waking, that late plans the next day instead of the rest of this one.
    """
    bedtime = _midnight(agent.ctx, day) + planning.bedtime_minute(agent.persona.routine, agent.persona.lifestyle) * 60
    return moment >= bedtime - LAST_HOUR_S


def _routine_from(persona: PersonaSpec, at: dt.datetime) -> list[RoutineStep]:
    """The persona's habitual day, starting from the habit nearest after ``at``."""
    return sorted(persona.routine, key=lambda s: (s.minute_of_day - at.hour * 60) % 1440)


def _midnight(ctx: AgentContext, day: dt.date) -> float:
    return ctx.clock.seconds(dt.datetime.combine(day, dt.time()))


def day_strokes(agent: GenerativeAgent, day: dt.date, wake: float, due: float | None = None) -> SubProcess[list[str]]:
    """A simpy sub-process: the day's plan in 3-8 broad strokes, drawing on what the agent remembers."""
    ctx, persona = agent.ctx, agent.persona
    at = ctx.clock.at(wake)
    date = f"{day:%A, %B %d}"
    remembered = agent.recall(f"{agent.name}'s plans and commitments for {date}")
    routine = _routine_from(persona, at)
    usual = "\n".join(f"{i}. {s.activity} at {s.at}" for i, s in enumerate(routine, 1)) or (
        persona.lifestyle or "an ordinary day")
    plain = [f"{s.activity} at {s.at}" for s in routine] + persona.daily_requirements
    for filler in ("wake up and get ready", "go about the day", "relax in the evening"):
        if len(plain) < 3:
            plain.append(filler)
    strokes = yield from ask(
        ctx, agent.name, render("day_plan", persona=agent.persona_text, name=agent.name, date=date,
                                wake=f"{at:%H:%M}", usual=usual,
                                remembered="\n".join(f"- {m.text}" for m in remembered) or "- nothing special"),
        planning.parse_strokes, check=not_copied("day_plan"), purpose="day_plan", max_tokens=120, stop=LIST_END,
        prefix="1.", default=" " + "\n".join(f"{i}. {s}" if i > 1 else s for i, s in enumerate(plain[:8], 1)),
        due=due)
    return strokes


def plan_day(agent: GenerativeAgent, day: dt.date, wake: float,
             strokes_asked: simpy.Process | None = None) -> SubProcess[None]:
    """A simpy sub-process: day plan (unless asked the night before), then the hourly schedule."""
    ctx, persona = agent.ctx, agent.persona
    midnight, at = _midnight(ctx, day), ctx.clock.at(wake)
    date = f"{day:%A, %B %d}"
    routine = _routine_from(persona, at)
    if strokes_asked is None:
        strokes = yield from day_strokes(agent, day, wake)
    else:
        strokes = yield strokes_asked
    bedtime_default = midnight + 23 * 3600

    def parse(text: str) -> tuple[list[Block], float]:
        return planning.schedule_blocks(planning.parse_schedule(text, midnight, after=wake), bedtime_default)

    # The first line is written for the model (the habitual start of the
    # day), which keeps a small model on the format and the persona's habits.
    lines = (planning.routine_entries(persona.routine, at.hour * 60 + at.minute).splitlines()
             if persona.routine else ["12:00 going about the day", "23:00 sleeping"])
    first = f"{at:%H:%M} {lines[0].split(' ', 1)[1] if lines[0][:5] == f'{at:%H:%M}' else 'waking up'}"
    rest = lines[1:] if lines[0][:5] == f"{at:%H:%M}" else _carry_on(persona, at, lines)
    try:
        blocks, bedtime = yield from ask(
            ctx, agent.name, render("schedule", persona=agent.persona_text, name=agent.name, plan="; ".join(strokes),
                                    usual="\n".join(f"{s.at} {s.activity}" for s in routine) or "(none)",
                                    first=first),
            parse, purpose="schedule", max_tokens=160, stop=LIST_END, prefix=first, joiner="\n",
            default="\n".join(rest))
    except Unparseable:  # not even the plain schedule fits what is left of the day: the plainest plan
        bedtime = max(wake + LAST_HOUR_S, midnight + 60 * planning.bedtime_minute(persona.routine, persona.lifestyle))
        blocks = [Block(wake, bedtime, strokes[0] if strokes else "going about the day")]
    if blocks[0].start > wake:
        blocks.insert(0, Block(wake, blocks[0].start, "waking up and getting ready"))
    agent.plan = DayPlan(day, midnight, wake, strokes, blocks, bedtime)
    agent.replan_reason = None  # the new plan already takes everything remembered into account
    ctx.log(events.PLAN, agent.name, level="day", date=day.isoformat(), wake=at.isoformat(timespec="minutes"),
            strokes=strokes, schedule=_schedule_rows(ctx, blocks),
            bedtime=ctx.clock.at(bedtime).isoformat(timespec="minutes"))
    agent.remember("plan", f"{agent.name}'s plan for {date}: {'; '.join(strokes)}")


def _carry_on(persona: PersonaSpec, at: dt.datetime, lines: list[str]) -> list[str]:
    """The plain schedule after waking up at ``at``: if its next line is hours away (a start late in
    the day, or a routine whose first step is late in the morning), half an hour of waking up, then
    what the routine has the persona doing at that time (or just going about the day)."""
    now = at.hour * 60 + at.minute
    gap = (int(lines[0][:2]) * 60 + int(lines[0][3:5]) - now) % 1440 if lines else 1440
    doing = [s for s in sorted(persona.routine, key=lambda s: s.minute_of_day)
             if s.minute_of_day <= now and not is_sleep(s.activity)]
    if gap <= 120:  # the routine's day begins soon
        return lines
    return [f"{at + dt.timedelta(minutes=30):%H:%M} {doing[-1].activity if doing else 'going about the day'}", *lines]


def _schedule_rows(ctx: AgentContext, blocks: list[Block]) -> list[dict[str, str]]:
    at = ctx.clock.at
    return [{"start": f"{at(b.start):%H:%M}", "end": f"{at(b.end):%H:%M}", "activity": b.activity}
            for b in blocks]


# -- living it out ---------------------------------------------------------------
def live_day(agent: GenerativeAgent) -> SubProcess[None]:
    """Work through the schedule until bedtime, an hour's chunk at a time."""
    ctx = agent.ctx
    while ctx.env.now < _today(agent).bedtime:
        agent.maybe_reflect()
        if agent.replan_reason:
            yield from revise(agent, agent.replan_reason)
        plan = _today(agent)
        now = ctx.env.now
        if now >= plan.bedtime:
            break
        block, chunk_end, minutes = planning.chunk_at(plan.blocks, plan.bedtime, now)
        prepared = ahead.take(agent, block)
        if minutes < 1:
            yield ctx.env.timeout(chunk_end - now)
            continue
        if prepared is not None:  # thought out during the last step (it may have ended a little off schedule)
            where, steps = yield prepared.ready
            if minutes <= planning.STEP_MINUTES[1]:
                steps = [(block.activity, minutes)]
            else:
                steps = planning.fit_durations(steps, minutes, block.activity)
        else:
            where = yield from choose_location(agent, block.activity, due=now + DECIDING_S)
            # each decision takes a moment from when it is asked (the place may have taken one already)
            steps = yield from decompose(agent, block.activity, minutes, where, start=now, due=ctx.env.now + DECIDING_S)
        if minutes > planning.STEP_MINUTES[1]:
            ctx.log(events.PLAN, agent.name, level="steps", activity=block.activity, minutes=minutes,
                    steps=[{"activity": a, "minutes": m} for a, m in steps])
        agent.chunk_ends = now + minutes * 60  # every step ends no sooner than planned (``act``)
        for index, (activity, step_minutes) in enumerate(steps):
            if index == len(steps) - 1:
                ahead.prepare(agent, plan, ctx.env.now + step_minutes * 60)
            interrupted = yield from act(agent, activity, step_minutes, where)
            if interrupted or agent.replan_reason:
                break
            agent.maybe_reflect()
        agent.chunk_ends = 0.0


def _today(agent: GenerativeAgent) -> DayPlan:
    assert agent.plan is not None, "a day is lived after it is planned"
    return agent.plan


def live_moment_to_moment(agent: GenerativeAgent) -> SubProcess[None]:
    """The no-planning ablation: every quarter of an hour, decide what to do next."""
    ctx = agent.ctx
    while True:
        agent.maybe_reflect()
        now = ctx.now
        recent = agent.recall(f"what {agent.name} should do at {now:%H:%M}", k=5)
        plain = _routine_activity(agent, now)
        activity = yield from ask(
            ctx, agent.name, render("next_action", persona=agent.persona_text, name=agent.name,
                                    time=now.strftime("%A %H:%M"), place=agent.location.place,
                                    memories="\n".join(f"- {m.text}" for m in recent) or "- nothing yet"),
            _activity, purpose="next_action", max_tokens=24, stop=("\n",), default=f" {plain}")
        if is_sleep(activity):
            yield from sleep_until(agent, ctx.env.now + 3600)
            continue
        where = yield from choose_location(agent, activity)
        yield from act(agent, activity, REACTIVE_STEP_MINUTES, where)


def _routine_activity(agent: GenerativeAgent, now: dt.datetime) -> str:
    minute = now.hour * 60 + now.minute
    steps = sorted(agent.persona.routine, key=lambda s: s.minute_of_day)
    current = [s for s in steps if s.minute_of_day <= minute] or steps[-1:]
    return current[-1].activity if current else "going about the day"


def _activity(text: str) -> str:
    activity = planning.clean_activity(text.strip().splitlines()[0] if text.strip() else "")
    if len(activity) < 3:
        raise Unparseable("no activity")
    return activity


# -- changing the plan -----------------------------------------------------------
def revise(agent: GenerativeAgent, reason: str) -> SubProcess[None]:
    """Re-plan the rest of today after something happened (keeps what is past)."""
    ctx, plan = agent.ctx, agent.plan
    agent.replan_reason = None
    if plan is None:
        return
    now = ctx.env.now
    past = [b for b in plan.blocks if b.end <= now]
    rest = [b for b in plan.blocks if b.end > now]
    if not rest:
        return

    # Times are read on the day the revision starts: past midnight, that is the day after the plan's.
    midnight = plan.midnight + 86400 * max(0, (now - 60 - plan.midnight) // 86400)

    def parse(text: str) -> tuple[list[Block], float]:
        entries = planning.parse_schedule(text, midnight, after=now - 60, minimum=1)
        entries = [(max(at, now), activity) for at, activity in entries]
        blocks, bedtime = planning.schedule_blocks(entries, plan.bedtime)
        return blocks, bedtime if any(is_sleep(a) for _, a in entries) else plan.bedtime

    # The model continues after the current activity, written for it, so a
    # small model keeps what still stands and changes only what must.
    current = [Block(max(b.start, now), b.end, b.activity) for b in rest]
    lines = planning.format_schedule(current, ctx.clock.at, plan.bedtime).splitlines()
    try:
        blocks, bedtime = yield from ask(
            ctx, agent.name, render("revise", persona=agent.persona_text, name=agent.name,
                                    schedule=planning.format_schedule(plan.blocks, ctx.clock.at, plan.bedtime),
                                    time=f"{ctx.now:%H:%M}", event=reason, first=lines[0]),
            parse, purpose="revise_schedule", max_tokens=120, stop=LIST_END, prefix=lines[0], joiner="\n",
            default="\n".join(lines[1:]), due=ctx.env.now + DECIDING_S)
    except Unparseable:  # not even the plan as it stands parses (the fallback is logged): keep it
        return
    blocks = [b for b in blocks if b.end > b.start]
    if not blocks:
        return
    revised = DayPlan(plan.date, plan.midnight, plan.wake, plan.strokes, past + blocks, max(bedtime, now))
    agent.plan = revised
    ctx.log(events.PLAN, agent.name, level="revision", reason=reason, schedule=_schedule_rows(ctx, blocks),
            bedtime=ctx.clock.at(revised.bedtime).isoformat(timespec="minutes"))


def decompose(agent: GenerativeAgent, activity: str, minutes: int, where: Location, *, start: float | None = None,
              due: float | None = None) -> SubProcess[list[tuple[str, int]]]:
    """A simpy sub-process: ``minutes`` of ``activity`` from ``start`` (default now) as 5-15 minute steps.

    The steps add up to exactly ``minutes``; ``due`` is when they are needed.
    """
    if minutes <= planning.STEP_MINUTES[1]:
        return [(activity, minutes)]
    ctx = agent.ctx
    begins = ctx.clock.at(ctx.env.now if start is None else start)

    def parse(text: str) -> list[tuple[str, int]]:
        return planning.fit_durations(planning.parse_steps(text), minutes, activity)

    steps = yield from ask(
        ctx, agent.name, render("decompose", name=agent.name, activity=activity, time=begins.strftime("%H:%M"),
                                minutes=minutes, place=f"{where.place}, {where.area}"),
        parse, check=not_copied("decompose"), purpose="decompose", max_tokens=96, stop=LIST_END, prefix="-",
        default=planning.default_steps(activity, minutes), due=due)
    return steps


def not_copied(template_name: str) -> Callable[[Sequence[str | tuple[str, int]]], None]:
    """A check refusing answers whose items mostly repeat the template's worked example."""
    def check(items: Sequence[str | tuple[str, int]]) -> None:
        if copied_from_example([i if isinstance(i, str) else i[0] for i in items], template_name):
            raise Unparseable("the answer repeats the prompt's example")
    return check
