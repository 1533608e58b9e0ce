"""Identity: who the agent is these days, revised every night from what happened that day.

The persona's "currently" line (what the agent is busy with) opens every
prompt it writes. The reference rewrites it daily; so does this agent: as it
falls asleep it looks back over the day's plans, conversations and thoughts
(``recall``, limited to the memories it made since the last revision) and
writes the line anew, so the next day's plan starts from what happened. The
plain answer keeps the persona's own line and adds the day's most important
news, so a day without news leaves the line (and the prompts' shared prefix)
unchanged, and the line never grows night after night.

It runs beside the night, not in the agent's way: its answer is due halfway
through falling asleep, before the agent has decided when to wake (which is
when the next day's plan is asked), so that plan always sees the new line.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Protocol

from agentville.agents.llm.asking import Unparseable, ask
from agentville.agents.llm.templates import copied_from_example, render
from agentville.agents.llm.timing import FALLING_ASLEEP_S
from agentville.sim.core import events

if TYPE_CHECKING:
    from agentville.sim.context import AgentContext, SubProcess
    from agentville.sim.scenario import PersonaSpec

    from .stream import MemoryNode, MemoryStream

LOOKING_BACK_S = FALLING_ASLEEP_S / 2  # due before the wake-up decision (FALLING_ASLEEP_S), hence the day's plan
RECALLED = 30  # memories retrieved about the day (those of earlier days are then left out)
SHOWN = 10  # the day's memories the prompt lists
NEWS = 2  # items of news the plain answer adds
NOTABLE = 7  # a sight of someone rated this important is news
MAX_NEWS_CHARS = 160
MAX_CHARS = 400
_SENTENCE_END = re.compile(r"[.!?]$")


class Self(Protocol):
    """An agent revising its sense of itself: who it is, what it remembers, and its "currently" line."""

    name: str
    ctx: AgentContext
    persona: PersonaSpec
    memory: MemoryStream
    currently: str
    identity_upto: int  # the last memory the previous revision looked at

    @property
    def persona_text(self) -> str: ...

    def recall(self, query: str, *, k: int | None = None, touch: bool = True) -> list[MemoryNode]: ...


def revise_identity(agent: Self, day: dt.date) -> SubProcess[None]:
    """A simpy sub-process: the agent's new "currently" line for ``day`` (the day it wakes up to), logged."""
    ctx = agent.ctx
    today = agent.memory.nodes[agent.identity_upto + 1:]
    agent.identity_upto = len(agent.memory) - 1
    if not today:  # nothing new since the last revision: nothing to revise it from
        return
    recalled = agent.recall(f"what happened to {agent.name} today, and what {agent.name} plans or promised to do",
                            k=RECALLED)
    first = news(agent, today)
    shown = first + [m for m in recalled if m.id >= today[0].id and m.id not in {n.id for n in first}]
    previous = agent.currently
    currently = yield from ask(
        ctx, agent.name, render("identity", persona=agent.persona_text, currently=previous or "(none)",
                                date=f"{day - dt.timedelta(days=1):%A, %B %d}",
                                memories="\n".join(f"- {m.text}" for m in shown[:SHOWN])),
        parse_status, check=not_copied, purpose="identity", max_tokens=100, stop=("\n",),
        default=" " + plain_status(agent, first), due=ctx.now + LOOKING_BACK_S)
    agent.currently = currently
    ctx.log(events.IDENTITY, agent.name, currently=currently, previous=previous, day=day.isoformat())


def news(agent: Self, today: list[MemoryNode]) -> list[MemoryNode]:
    """The day's most important news: thoughts (what it means to do) first, then conversations, then notable
    sights of others; within each, the more important, then the more recent, first."""
    order = {"thought": 0, "chat": 1, "event": 2}
    told = [m for m in today if m.kind in ("chat", "thought")
            or (m.kind == "event" and m.subject not in (None, agent.name) and m.importance >= NOTABLE)]
    return sorted(told, key=lambda m: (order[m.kind], -m.importance, -m.id))[:NEWS]


def plain_status(agent: Self, items: list[MemoryNode]) -> str:
    """The persona's own line plus the day's news; the line as it stands when the day brought none."""
    usual = f"{agent.name} is going about the days as usual."
    if not items:
        return agent.currently if len(agent.currently.split()) >= 4 else usual
    base = agent.persona.currently.strip() or usual
    return _clip(" ".join([_sentence(base), *(_sentence(_clip(m.text, MAX_NEWS_CHARS)) for m in items)]))


def parse_status(text: str) -> str:
    """The first line, unquoted, at least a few words, at most ``MAX_CHARS``."""
    line = text.strip().splitlines()[0].strip().strip('"').strip() if text.strip() else ""
    if len(line.split()) < 4:
        raise Unparseable("the status is too short")
    return _clip(line)


def not_copied(status: str) -> None:
    if copied_from_example([status], "identity"):
        raise Unparseable("the status repeats the prompt's example")


def _sentence(text: str) -> str:
    text = text.strip()
    return text if _SENTENCE_END.search(text) else text.rstrip(",;:") + "."


def _clip(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0].rstrip(",;:") + "..."
