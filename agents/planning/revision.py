"""Revising the day: after a conversation or a thought, the hours it touches are planned again.

As in the reference, a revision rewrites the block in force (and whatever
begins within the hour), and the later schedule stands: a small model asked
for "the rest of the day" loses most of it. Not every event calls for one: a
conversation that says nothing about plans changes nothing (it is remembered,
and the next day's plan draws on it), one that might is put to the model as a
yes/no question; a thought (the inner voice) always counts.

A revision must make sense before it replaces the plan: it starts now, ends
with the window, goes to bed only near the habitual bedtime, and keeps what
was planned there (a daily requirement above all) unless the reason calls it
off. Otherwise it is asked again, then the plan is kept. In the log: each
rejected answer is a ``parse_failed`` (purpose ``revise_schedule``, with its
reason), a plan kept after rejections a ``fallback``, an accepted change a
``plan`` of level ``revision``; an accepted answer that changes nothing logs
no plan; the yes/no questions are ``llm_call`` rows of purpose ``revise_needed``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING

from agentville.agents.llm import shapes
from agentville.agents.llm.asking import LIST_END, Unparseable, ask
from agentville.agents.llm.templates import copied_from_example, render
from agentville.agents.llm.timing import DECIDING_S
from agentville.sim.core import events

from . import schedule
from .schedule import BEDTIME_SLACK_S, Block, clean_activity, is_sleep, timed_items

if TYPE_CHECKING:
    from collections.abc import Callable

    from agentville.agents.generative import GenerativeAgent
    from agentville.sim.context import SubProcess

    from .schedule import DayPlan

WINDOW_S = 3600  # a revision reaches the end of the block in force and of every block begun within this
SHORTEST_S = 10 * 60  # less than this left before bedtime: nothing worth revising
KEPT_S = 20 * 60  # an activity planned for this long in the window must survive a revision
INTENT_S = 30 * 60  # how long the plain answer gives what a thought means to do

PLANS = re.compile(r"\b(plan(?:s|ned)?|invit\w*|party|meet(?:ing)?|tonight|tomorrow|join|instead|cancel\w*|"
                   r"postpone\w*|reschedul\w*|come (?:over|by|along)|let's|shall we|will you|"
                   r"\d{1,2}(?::\d\d)?\s*(?:am|pm)|o'clock)\b", re.I)
CALLED_OFF = re.compile(r"\b(cancel\w*|call(?:s|ed|ing)? off|instead|skip\w*|postpon\w*|reschedul\w*|closed|"
                        r"no longer|not going|won't|can't|put off)\b", re.I)
_SCAFFOLD = re.compile(r"what just happened|'s schedule|schedule (?:for|from)|^it is\b|^question\b|^answer\b|"
                       r"\bwak(?:e|es|ing) up\b", re.I)  # the prompt's words, or waking up in the middle of a day
_INTENT = re.compile(r"\b(?:I|we)\s*(?:should|must|will|'ll|need to|have to|want to|ought to|(?:am|'m) going to)"
                     r"\s+(?:really\s+|definitely\s+|go and\s+)?(?P<verb>[a-z]+)(?P<rest>[^.!?;\n]*)", re.I)
_STOPWORDS = frozenset("with that this from into about their them then there after before some have will".split())
_GENERIC = frozenset({"go", "get", "mak", "tak", "com", "do", "hav", "start", "put", "keep"})  # verbs, stemmed


def revise(agent: GenerativeAgent, reason: str) -> SubProcess[None]:
    """Re-plan the hours ``reason`` touches, keeping what is past and the later schedule."""
    agent.planning.replan_reason = None
    if agent.planning.plan is None or _window(agent.planning.plan, agent.ctx.now) is None:
        return
    if not (yield from _calls_for_change(agent, reason)):
        return
    ctx, plan, now = agent.ctx, agent.planning.plan, agent.ctx.now
    end = _window(plan, now)
    if end is None:
        return
    before = [Block(max(b.start, now), min(b.end, end), b.activity) for b in plan.blocks if b.end > now > b.start
              or now <= b.start < end]
    if not before:
        return
    clock = ctx.clock.at(now)
    floor = now - clock.second - clock.microsecond / 1e6

    def parse(text: str) -> tuple[list[Block], float]:
        return read_revision(text, floor, clock.hour * 60 + clock.minute, now, end, plan.bedtime)

    kept = _lines(before, ctx.clock.at)
    intent = intention(reason, agent.name) if _thought(agent, reason) else None
    plain = kept if intent is None else _lines(_insert(before, intent, now, end), ctx.clock.at)
    try:
        blocks, bedtime = yield from ask(
            ctx, agent.name, render("revise", persona=agent.persona_text, name=agent.name, needs=needs_line(agent),
                                    window=_lines(before, ctx.clock.at, timed=True), time=f"{clock:%H:%M}",
                                    until=f"{ctx.clock.at(end):%H:%M}", event=reason),
            parse, check=_sensible(agent, reason, before), purpose="revise_schedule", max_tokens=150,
            shape=shapes.revision(150),
            stop=(*LIST_END, "\nWhat just happened", f"\n{agent.name}'s schedule"),
            prefix=f"{clock:%H:%M}", joiner=" ", default=plain, fallback=kept, listing=True,
            due=ctx.now + DECIDING_S)
    except Unparseable:  # not even the plan as it stands reads back (the fallback is logged): keep it
        return
    rows = schedule.schedule_rows(blocks, ctx.clock.at)
    if rows == schedule.schedule_rows(before, ctx.clock.at) and bedtime == plan.bedtime:
        return  # an answer that changes nothing: the plan stands as it was
    lived = [Block(b.start, min(b.end, now), b.activity) for b in plan.blocks if b.start < now]
    later = [b for b in plan.blocks if b.start >= end and b.start < bedtime]
    agent.planning.plan = dataclasses.replace(plan, blocks=lived + blocks + later, bedtime=bedtime)
    ctx.log(events.PLAN, agent.name, level="revision", reason=reason,
            schedule=schedule.schedule_rows(blocks + later, ctx.clock.at),
            bedtime=ctx.clock.at(bedtime).isoformat(timespec="minutes"))


def needs_line(agent: GenerativeAgent) -> str:
    """The persona's daily requirements as a prompt line (empty without any)."""
    needs = agent.persona.daily_requirements
    return f"Every day {agent.name} needs to: {'; '.join(needs)}." if needs else ""


def _window(plan: DayPlan, now: float) -> float | None:
    """Where a revision at ``now`` ends: the end of the block in force and of those begun within the hour."""
    ends = [b.end for b in plan.blocks if b.end > now and b.start < now + WINDOW_S]
    end = min(max(ends, default=now + WINDOW_S), plan.bedtime)
    return end if end - now >= SHORTEST_S else None


def _thought(agent: GenerativeAgent, reason: str) -> bool:
    """Whether ``reason`` is the agent's own thought (its inner voice), not something it was told."""
    return reason.startswith(f"{agent.name} thought:")


def _calls_for_change(agent: GenerativeAgent, reason: str) -> SubProcess[bool]:
    """Whether ``reason`` may change the plan: a thought does; a conversation (or anything else) only if
    it speaks of plans (invitations, times, meetings) and the model then says it changes the next hours."""
    if _thought(agent, reason):
        return True
    if not PLANS.search(reason):
        return False
    ctx, plan = agent.ctx, agent.planning.plan
    assert plan is not None
    end = _window(plan, ctx.now) or plan.bedtime
    coming = [b for b in plan.blocks if b.end > ctx.now and b.start < end]
    answer = yield ctx.llm.choice(
        render("revise_needed", persona=agent.persona_text, name=agent.name, time=f"{ctx.clock.at(ctx.now):%H:%M}",
               until=f"{ctx.clock.at(end):%H:%M}", schedule=_lines(coming, ctx.clock.at, timed=True), event=reason),
        ("yes", "no"), purpose="revise_needed", agent=agent.name, default="no", due=ctx.now + DECIDING_S)
    return answer == "yes"


def read_revision(text: str, floor: float, minute0: int, now: float, end: float,
                  bedtime: float) -> tuple[list[Block], float]:
    """The revised window ``now``..``end`` from ``HH:MM activity`` lines (``floor``: ``now``'s whole minute,
    ``minute0`` of the day).

    Clock times are read forward from ``floor`` (a night guard's window crosses midnight); lines out of
    order are dropped, lines at or past the window's end too (the later schedule stands). A line about
    sleeping is bedtime only where the window reaches bedtime and near it.
    """
    entries: list[tuple[float, str]] = []
    for minute, activity in timed_items(text):
        at = floor + ((minute - minute0) % 1440) * 60
        if entries and at <= entries[-1][0]:
            if at == entries[-1][0] and not is_sleep(activity):  # two lines for one time: the later one stands
                entries[-1] = (entries[-1][0], activity)
            continue
        if at >= end:  # past the window (or before now, read as tomorrow): not this revision's
            continue
        if is_sleep(activity):
            if end < bedtime or at < bedtime - BEDTIME_SLACK_S:
                raise Unparseable(f"goes to bed at {minute // 60:02d}:{minute % 60:02d}, long before bedtime")
            bedtime = end = max(at, now + 60)
            break
        entries.append((max(at, now), activity))
    if not entries or entries[0][0] > now:
        raise Unparseable("nothing planned for now (expected the activity after the time, then HH:MM lines)")
    ends = [at for at, _ in entries[1:]] + [end]
    return [Block(at, stop, activity) for (at, activity), stop in zip(entries, ends, strict=True)], bedtime


def _sensible(agent: GenerativeAgent, reason: str,
              before: list[Block]) -> Callable[[tuple[list[Block], float]], None]:
    """A check refusing a revision that drops what was planned (unless ``reason`` calls it off) or is not a plan."""
    needs = agent.persona.daily_requirements
    intent = intention(reason, agent.name) if _thought(agent, reason) else None

    def check(revision: tuple[list[Block], float]) -> None:
        blocks = revision[0]
        for block in blocks:
            if _SCAFFOLD.search(block.activity):
                raise Unparseable(f"not an activity: {block.activity!r}")
        if copied_from_example([b.activity for b in blocks], "revise"):
            raise Unparseable("the answer repeats the prompt's example")
        if intent and not any(_stems(intent) - _GENERIC & _stems(b.activity) for b in blocks):
            raise Unparseable(f"leaves out what the thought means to do ({intent})")
        for block in before:
            if block.end - block.start < KEPT_S or any(_mentions(b.activity, block.activity) for b in blocks):
                continue
            if CALLED_OFF.search(reason) and _mentions(reason, block.activity):
                continue
            need = next((n for n in needs if _mentions(block.activity, n) or _mentions(n, block.activity)), None)
            raise Unparseable(f"drops {block.activity!r}" + (f" (a daily requirement: {need})" if need else ""))
    return check


def _mentions(text: str, activity: str) -> bool:
    """Whether ``text`` speaks of ``activity``: half of its words (at least one) appear, by their stems."""
    words = _stems(activity)
    return bool(words) and len(words & _stems(text)) * 2 >= len(words)


def _stems(text: str) -> set[str]:
    """Content words, crudely stemmed ("serving", "serve" -> "serv"; "shopping" -> "shop")."""
    stems = set()
    for word in re.findall(r"[a-z]{4,}", text.lower()):
        if word in _STOPWORDS:
            continue
        word = re.sub(r"(?:ations?|ings?|ed|es|s|e)$", "", word) or word
        word = word[:-1] if len(word) > 3 and word[-1] == word[-2] else word
        stems.add(word[:5])
    return stems


def intention(reason: str, name: str) -> str | None:
    """What a thought means to do, as an activity ("I should ask Ann about it" -> "asking Ann about it")."""
    match = _INTENT.search(reason)
    if not match:
        return None
    rest = re.sub(r"\bmy\b", "their", re.sub(r"\bme\b|\bmyself\b", "them", match["rest"]))
    return clean_activity(_gerund(match["verb"].lower()) + re.sub(r"\bI\b", name, rest)) or None


def _gerund(verb: str) -> str:
    if verb.endswith("ie"):
        return verb[:-2] + "ying"
    if verb.endswith("e") and not verb.endswith(("ee", "ye", "oe")) and len(verb) > 2:
        return verb[:-1] + "ing"
    if re.fullmatch(r"[^aeiou]*[aeiou][^aeiouwxy]", verb):  # one syllable ending in a short vowel: stop, plan
        return verb + verb[-1] + "ing"
    return verb + "ing"


def _insert(before: list[Block], activity: str, now: float, end: float) -> list[Block]:
    """The plain revision of a thought: what it means to do first, then the window's plan as it was."""
    until = now + min(INTENT_S, (end - now) / 2)
    return [Block(now, until, activity)] + [Block(max(b.start, until), b.end, b.activity) for b in before
                                            if b.end > until]


def _lines(blocks: list[Block], clock_at, timed: bool = False) -> str:
    """Blocks as schedule lines; the first one's time left out unless ``timed`` (the prompt ends with it)."""
    lines = schedule.format_schedule(blocks, clock_at).splitlines()
    if lines and not timed:
        lines[0] = lines[0][6:]
    return "\n".join(lines)
