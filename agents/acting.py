"""Acting: going somewhere, doing one step there, reacting to whom it meets, waiting, sleeping.

A step is the unit of an agent's time. It walks to where the step happens,
starts it where others can see it, notices what is around and remembers it
(and its own action, when it is a new activity: ``Perception.notice_self``),
and may decide to talk to someone it sees (or wait for them to finish);
otherwise it carries on until the step ends. Only while it carries on can
another agent pull it into a conversation (``GenerativeAgent.available``),
which cuts the step short. The agent's state (``AWAKE``, ``ACTING``,
``TALKING``, ``SLEEPING``) says which of these it is in.

Acting also keeps the agent's promises to the scheduler (``agent.promises``,
``sim/context/promises.py``): how long it stays where it is, the step's end,
the night, or the chunk of the day (the day loop, ``living``, says when that ends).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from agentville.sim.core import events

from .llm.templates import render
from .llm.timing import REACTION_S
from .memory.stream import Impression
from .talk.dialogue import converse

if TYPE_CHECKING:
    from agentville.sim.context import SubProcess
    from agentville.sim.core.location import Location

    from .generative import GenerativeAgent
    from .perception import Observation

AWAKE, ACTING, TALKING, SLEEPING = "awake", "acting", "talking", "sleeping"
REACTIONS = ("talk", "wait", "carry on")
REACTION_MEMO_S = 30 * 60  # do not reconsider the same person more often than this
WAIT_MINUTES = (1, 10)


def act(agent: GenerativeAgent, activity: str, minutes: float, where: Location) -> SubProcess[bool]:
    """Do one step: go there, start it, look around, maybe react; True if a conversation cut it short."""
    ctx = agent.ctx
    end = ctx.now + minutes * 60
    yield from go(agent, where)
    myself = start(agent, activity, f"{agent.name} is {activity}")
    observations = agent.perception.notice(ctx, where)
    seen = ([myself] if myself else []) + observations
    if seen:  # remembered in the background: noticing does not stop the agent
        agent.remember_all([Impression("event", o.text, subject=o.subject) for o in seen])
    if (yield from react(agent, observations)):
        return True
    return (yield from pause(agent, max(end - ctx.now, 60.0)))


def start(agent: GenerativeAgent, activity: str, description: str) -> Observation | None:
    """Start ``activity`` where the agent is, for all to see (and its object in use); its own new action is
    returned as an observation to remember (None when it has just been doing it: ``Perception.notice_self``)."""
    ctx, where = agent.ctx, agent.location
    agent.activity = activity
    ctx.start_action(activity, description)
    if where.object:
        ctx.use(where, f"in use by {agent.name}: {activity}")
    return agent.perception.notice_self(activity, where)


def go(agent: GenerativeAgent, where: Location) -> SubProcess[None]:
    """Walk (or, within an area, step) to ``where``, leaving the object in use behind; a place walked to is known."""
    ctx = agent.ctx
    if agent.location.object and agent.location != where:
        ctx.free(agent.location)
    walking = where.area_key != agent.location.area_key
    if walking:
        agent.state = AWAKE
    yield from ctx.walk(where)
    if walking:
        agent.known_places.add(where.place)


def pause(agent: GenerativeAgent, seconds: float) -> SubProcess[bool]:
    """Carry on with the current step for ``seconds``; True if someone started a conversation meanwhile."""
    ctx, promises = agent.ctx, agent.promises
    agent.state, promises.action_ends = ACTING, ctx.now + seconds
    promises.stays_until = promises.action_ends  # only someone here can cut the step short (``join``)
    promises.alone_until = max(promises.stays_until, promises.chunk_ends)  # the chunk's steps all happen here
    agent.interrupt = ctx.event()
    yield ctx.any_of([ctx.timeout(seconds), agent.interrupt])
    agent.interrupt = None
    if agent.conversation is None:
        agent.state = AWAKE
        return False
    conversation = agent.conversation
    yield conversation.done
    return True


def react(agent: GenerativeAgent, observations: list[Observation]) -> SubProcess[bool]:
    """Decide, for each person just seen, whether to talk, wait or carry on; True if a conversation happened."""
    ctx = agent.ctx
    for observation in observations:
        # Every resident is a GenerativeAgent (the runner's factory); objects are not residents (None).
        other = cast("GenerativeAgent | None", ctx.residents.get(observation.subject))
        if other is None or not may_approach(agent, other):
            continue
        if ctx.now - agent.considered.get(other.name, -REACTION_MEMO_S) < REACTION_MEMO_S:
            continue
        agent.considered[other.name] = ctx.now
        memories = agent.recall(other.name, k=3)
        decision = yield ctx.llm.choice(
            render("reaction", persona=agent.persona_text, name=agent.name, time=f"{ctx.clock.at(ctx.now):%A %H:%M}",
                   activity=agent.activity, place=agent.location.place, other=other.name,
                   other_activity=other.activity,
                   memories="\n".join(f"- {m.text}" for m in memories) or "- nothing yet"),
            REACTIONS, purpose="reaction", agent=agent.name, default="carry on", due=ctx.now + REACTION_S)
        ctx.log(events.REACTION, agent.name, other=other.name, decision=decision)
        if decision == "talk" and may_approach(agent, other):
            yield from converse(agent, other)
            return True
        if decision == "wait":
            low, high = WAIT_MINUTES
            minutes = min(high, max(low, (other.promises.action_ends - ctx.now) / 60))
            waiting = f"waiting for {other.name} to finish"  # for others to see; it still means to do its step
            ctx.start_action(waiting, f"{agent.name} is {waiting}")
            if (yield from pause(agent, minutes * 60)):
                return True
            if may_approach(agent, other):
                yield from converse(agent, other)
                return True
            ctx.start_action(agent.activity, f"{agent.name} is {agent.activity}")  # back to it
    return False


def may_approach(agent: GenerativeAgent, other: GenerativeAgent) -> bool:
    """Can ``agent`` start talking to ``other`` now: free, in the same area, and not talked to too recently?"""
    cooldown = agent.cognition.conversation_cooldown_minutes * 60
    return (other is not agent and other.available() and agent.conversation is None
            and other.location.area_key == agent.location.area_key
            and agent.ctx.now - agent.last_talked.get(other.name, -cooldown) >= cooldown)


def sleep_until(agent: GenerativeAgent, moment: float) -> SubProcess[None]:
    """Go to bed (unless already asleep) and sleep until ``moment``."""
    if agent.state != SLEEPING:
        yield from fall_asleep(agent)
    stay_until(agent, moment)
    yield agent.ctx.timeout(max(0.0, moment - agent.ctx.now))
    agent.state = AWAKE


def stay_until(agent: GenerativeAgent, moment: float) -> None:
    """Promise to stay put, alone, until ``moment`` (asleep: however early it then decides to wake)."""
    promises = agent.promises
    promises.stays_until = promises.alone_until = max(moment, agent.ctx.now)


def stay_for_the_step_only(agent: GenerativeAgent) -> None:
    """Promise no longer to stay the rest of the chunk, only the step (it will rethink its day after it)."""
    agent.promises.alone_until = agent.promises.stays_until


def stay_while_talking(agent: GenerativeAgent) -> None:
    """In a conversation it promises nothing more: it may leave as soon as the talk is over."""
    promises = agent.promises
    promises.stays_until = promises.alone_until = min(promises.stays_until, agent.ctx.now)


def fall_asleep(agent: GenerativeAgent) -> SubProcess[None]:
    """Go to bed (or home, if it has no bed) and fall asleep."""
    ctx = agent.ctx
    beds = [o for o in ctx.world.objects_in(*agent.home.area_key)
            if o.object and "bed" in o.object.lower().split()]  # objects_in's locations all name an object
    yield from go(agent, beds[0] if beds else agent.home)
    agent.state = SLEEPING
    myself = start(agent, "sleeping", f"{agent.name} is asleep")
    if myself:  # once a night, however the night began (a "sleeping" step before bedtime is the same night)
        agent.remember_all([Impression("event", myself.text, subject=myself.subject)])
