"""An agent's days: when it wakes up, what it plans, how it lives the plan out.

Planning goes top-down, as in the reference: on waking, a day plan in broad
strokes and an hourly schedule, both drawing on what the agent remembers;
each hour's block is broken into 5-15 minute steps only when it is reached
(plans made far ahead are mostly thrown away by reactions); after a
conversation or a thought, the hours it touches are revised (``revision``).
A day runs from waking up to bedtime near the persona's habits (``habits``),
whatever the clock says: a night guard's crosses midnight. With planning
switched off (the ablation), the agent instead decides every quarter of an
hour what to do next. ``planning`` holds the parsers; this module holds the
agent's side: the prompts, the plain answers and the loop over the day.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from agentville.agents.llm import shapes
from agentville.agents.llm.asking import LIST_END, Unparseable, ask, not_copied
from agentville.agents.llm.templates import render
from agentville.sim.core import events

from . import commitments, habits, schedule
from .revision import needs_line
from .schedule import Block, DayPlan, is_sleep

if TYPE_CHECKING:
    import simpy

    from agentville.agents.generative import GenerativeAgent
    from agentville.sim.context import SubProcess
    from agentville.sim.context.protocols import AgentContext
    from agentville.sim.scenario.schema import PersonaSpec, RoutineStep


LAST_HOUR_S = 3600  # a day with less than this left before bedtime is not begun: the agent sleeps to the next
DAY_PLAN_TOKENS = 200  # three strokes of 63 characters fit whatever the tokens (``shapes.day_plan``)




# -- waking up and planning the day ----------------------------------------------
def choose_wake(agent: GenerativeAgent, day: dt.date, due: float | None = None) -> SubProcess[float]:
    """A simpy sub-process: the simulated second the agent wakes up on ``day`` (decided by ``due``).

    Within an hour of its habit (``habits.wake_minute``: a night worker's is in the afternoon), as
    small models pick hours almost at random otherwise.
    """
    usual = habits.wake_minute(agent.persona.routine, agent.persona.lifestyle) // 60
    hours = tuple(str(h) for h in range(max(0, usual - 1), min(23, usual + 1) + 1))
    hour = yield agent.ctx.llm.choice(
        render("wake_up", persona=agent.persona_text, name=agent.name, day=f"{day:%A, %B %d}",
               first=hours[0], last=hours[-1]),
        hours, purpose="wake_up", agent=agent.name, default=str(usual), due=due)
    return _midnight(agent.ctx, day) + int(hour) * 3600


def habitual_bedtime(agent: GenerativeAgent, day: dt.date) -> float:
    """When the agent usually goes to bed at the end of ``day`` (the day it wakes up to), in simulated seconds."""
    return _midnight(agent.ctx, day) + 60 * habits.bedtime_minute(agent.persona.routine, agent.persona.lifestyle)


def day_over(agent: GenerativeAgent, day: dt.date, moment: float) -> bool:
    """Whether ``day`` is (all but) over at ``moment``: within an hour of the persona's habitual bedtime, or past it.

    An agent starting, or waking, that late plans the next day instead of the rest of this one.
    """
    return moment >= habitual_bedtime(agent, day) - LAST_HOUR_S


def first_day(agent: GenerativeAgent, moment: float) -> tuple[dt.date, bool]:
    """The day an agent starting at ``moment`` lives first, and whether it is up already.

    It is up when ``moment`` lies in that day's waking hours, from an hour after its habitual wake-up
    on (a night guard started at 02:00 is at work, in the day he woke up to the afternoon before);
    otherwise it sleeps, or is about to wake up, and decides when.
    """
    today = agent.ctx.clock.at(moment).date()
    wake = 60 * habits.wake_minute(agent.persona.routine, agent.persona.lifestyle)
    for day in (today - dt.timedelta(days=1), today):
        if not day_over(agent, day, moment):
            return day, moment >= _midnight(agent.ctx, day) + wake + 3600
    return today + dt.timedelta(days=1), False


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
    remembered = agent.recall(_plans_query(agent, day))
    routine = _routine_from(persona, at)
    # Without a routine, nothing: the persona's lifestyle is in ``persona_text`` already.
    usual = "\n".join(f"{i}. {s.activity} at {s.at}" for i, s in enumerate(routine, 1)) or "(no fixed routine)"
    promised = [f"{c.activity} at {c.start // 60:02d}:{c.start % 60:02d}"
                for c in commitments.for_day(agent, day, remembered)]
    plain = promised + [f"{s.activity} at {s.at}" for s in routine] + persona.daily_requirements
    for filler in ("wake up and get ready", "go about the day", "relax in the evening"):
        if len(plain) < 3:
            plain.append(filler)
    strokes = yield from ask(
        ctx, agent.name, render("day_plan", persona=agent.persona_text, name=agent.name, date=date,
                                wake=f"{at:%H:%M}", usual=usual, needs=needs_line(agent),
                                remembered="\n".join(f"- {m.text}" for m in remembered) or "- nothing special"),
        schedule.parse_strokes, check=not_copied("day_plan"), purpose="day_plan", max_tokens=DAY_PLAN_TOKENS,
        shape=shapes.day_plan(DAY_PLAN_TOKENS),
        stop=(*LIST_END, "\n9.", f"\n{agent.name}'s"),  # at most 8 strokes; no second plan (small models ramble)
        prefix="1.", default=" " + "\n".join(f"{i}. {s}" if i > 1 else s for i, s in enumerate(plain[:8], 1)),
        due=due, listing=True)
    return strokes


def _plans_query(agent: GenerativeAgent, day: dt.date) -> str:
    return f"{agent.name}'s plans and commitments for {day:%A, %B %d}"


def plan_day(agent: GenerativeAgent, day: dt.date, wake: float,
             strokes_asked: simpy.Process | None = None) -> SubProcess[None]:
    """A simpy sub-process: day plan (unless asked the night before), then the hourly schedule.

    The schedule's bedtime is believed only near the persona's habit (``schedule.schedule_blocks``).
    """
    ctx, persona = agent.ctx, agent.persona
    midnight, at = _midnight(ctx, day), ctx.clock.at(wake)
    habit = habitual_bedtime(agent, day)
    routine = _routine_from(persona, at)
    if strokes_asked is None:
        strokes = yield from day_strokes(agent, day, wake)
    else:
        strokes = yield strokes_asked

    # The first line is written for the model (the habitual start of the
    # day), which keeps a small model on the format and the persona's habits.
    # Times are read on the date it wakes up (a night guard's day resumed after midnight is the day before's).
    from_date = _midnight(ctx, at.date())
    bed = round((habit - from_date) / 60)
    first, rest = _first_lines(persona, at, _plain_schedule(persona, at, bed))
    promised = commitments.for_day(agent, day, agent.recall(_plans_query(agent, day), touch=False))
    rest = commitments.fit(rest, at.hour * 60 + at.minute, promised, bed)
    try:
        plain = schedule.parse_schedule("\n".join([first, *rest]), from_date, after=wake, minimum=1)
    except Unparseable:
        plain = []

    def parse(text: str) -> tuple[list[Block], float]:
        entries = commitments.kept(schedule.parse_schedule(text, from_date, after=wake), from_date, promised)
        return schedule.schedule_blocks(entries, habit, habit=habit, plain=plain)

    try:
        blocks, bedtime = yield from ask(
            ctx, agent.name, render("schedule", persona=agent.persona_text, name=agent.name, plan="; ".join(strokes),
                                    usual="\n".join(f"{s.at} {s.activity}" for s in routine) or "(no fixed routine)",
                                    needs=needs_line(agent), first=first),
            parse, purpose="schedule", max_tokens=240, stop=(*LIST_END, f"\n{agent.name}'s", "\nEvery day"),
            shape=shapes.schedule(240, first),
            prefix=first, joiner="\n",
            default="\n".join(rest), listing=True)
    except Unparseable:  # not even the plain schedule fits what is left of the day: the plainest plan
        bedtime = max(wake + LAST_HOUR_S, habit)
        blocks = [Block(wake, bedtime, strokes[0] if strokes else "going about the day")]
    if blocks[0].start > wake:
        blocks.insert(0, Block(wake, blocks[0].start, "waking up and getting ready"))
    agent.planning.plan = DayPlan(day, midnight, wake, strokes, blocks, bedtime)
    agent.planning.replan_reason = None  # the new plan already takes everything remembered into account
    ctx.log(events.PLAN, agent.name, level="day", date=day.isoformat(), wake=at.isoformat(timespec="minutes"),
            strokes=strokes, schedule=schedule.schedule_rows(blocks, ctx.clock.at),
            bedtime=ctx.clock.at(bedtime).isoformat(timespec="minutes"))
    agent.remember("plan", f"{agent.name}'s plan for {day:%A, %B %d}: {'; '.join(strokes)}")


def _plain_schedule(persona: PersonaSpec, at: dt.datetime, bed: int) -> list[str]:
    """The persona's habitual day as schedule lines from ``at`` to bedtime (``bed``: minutes after ``at``'s midnight).

    Without a routine: going about the day, an evening, and bed at the habitual time.
    """
    woke = at.hour * 60 + at.minute
    if persona.routine:
        return schedule.routine_entries(persona.routine, woke, bed).splitlines()
    times = [(woke + 30, "going about the day")] + [(bed - 180, "relaxing in the evening")] * (bed - 180 > woke + 90)
    return [f"{m // 60 % 24:02d}:{m % 60:02d} {a}" for m, a in [*times, (bed, "sleeping")]]


def _first_lines(persona: PersonaSpec, at: dt.datetime, lines: list[str]) -> tuple[str, list[str]]:
    """The schedule's first line (written for the model) and the plain rest, for a day begun at ``at``.

    Up at the habitual hour, the day starts with waking up; if the routine's next line is then hours
    away (a routine whose first step is late in the morning), half an hour of it, then what the routine
    has the persona doing. Started in the middle of its day, the agent goes on with what it is doing.
    """
    now = at.hour * 60 + at.minute
    if lines[0][:5] == f"{at:%H:%M}":
        return lines[0], lines[1:]
    doing = routine_activity(persona, now)
    doing = "going about the day" if is_sleep(doing) else doing
    woke = habits.wake_minute(persona.routine, persona.lifestyle)
    if min((now - woke) % 1440, (woke - now) % 1440) > 90:  # not just up: started in the middle of its day
        return f"{at:%H:%M} {doing}", lines
    gap = (int(lines[0][:2]) * 60 + int(lines[0][3:5]) - now) % 1440
    if gap <= 120:  # the routine's day begins soon
        return f"{at:%H:%M} waking up", lines
    return f"{at:%H:%M} waking up", [f"{at + dt.timedelta(minutes=30):%H:%M} {doing}", *lines]

def routine_activity(persona: PersonaSpec, minute: int) -> str:
    """What the routine has the persona doing at ``minute`` of the day (its latest step, maybe yesterday's)."""
    steps = sorted(persona.routine, key=lambda s: s.minute_of_day)
    current = [s for s in steps if s.minute_of_day <= minute] or steps[-1:]
    return current[-1].activity if current else "going about the day"

