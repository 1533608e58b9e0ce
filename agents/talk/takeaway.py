"""What each participant takes away from a conversation, from its own point of view.

The reference keeps a summary of the conversation and two follow-ups: what
the agent should remember and what it means to do next. Here each
participant writes, in one request asked while the last line is being said,
the facts, invitations, plans and opinions it learned from the other (each
a memory of its own, tagged with the conversation and who said it, so a
fact's path through the town can be traced) and what it means to do about
them (a thought that may change its plans).

The plain answer keeps what the other said that carried news, so with the
fake backend, too, news travels from mouth to memory to mouth.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from agentville.agents.llm.asking import LIST_END, Unparseable, ask
from agentville.agents.llm.grounded import grounded
from agentville.agents.llm.templates import copied_from_example, render

if TYPE_CHECKING:
    from agentville.sim.context import SubProcess

    from .conversation import Conversation, Speaker

MAX_ITEMS = 3
MAX_CORE_WORDS = 30  # a plain item keeps this much of what was said
_NOTHING = re.compile(r"^(nothing|none|no(thing)? new|n/a)\b", re.I)
_GREETING = re.compile(r"^(?:hi|hello|hey|morning|good (?:morning|afternoon|evening))\b[^.!?]*[.!?]\s*", re.I)
_OPENER = re.compile(r"^(?:you know,|did you hear\??|guess what\??|i heard that|by the way,|oh,? nice!?|anyway,)\s*",
                     re.I)
_TOLD = re.compile(r"^[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)* told (?:me|[A-Z][\w.'-]*(?: [A-Z][\w.'-]*)*)(?: that)?:?\s*")
_SMALL_TALK = re.compile(r"\b(how is your day|how are you|and you\?|not much new|see you|get back to it|"
                         r"good, thanks)\b", re.I)
_LINE_COPY = re.compile(r"^[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}:\s+")  # "Klaus Mueller: ..."
_PLANS = re.compile(r"\b(invit\w*|party|come|join|meet\w*|tonight|tomorrow|election|vote|"
                    r"\d{1,2}(?::\d\d)?\s*(?:am|pm)|o'clock)\b", re.I)


@dataclass(frozen=True)
class Takeaway:
    learned: list[str]  # sentences, each a memory of its own
    next_step: str | None  # what it means to do about it, if anything


def core(line: str) -> str:
    """What a line says, without greetings, openers and "X told me:" relays (so news does not nest)."""
    text = line.strip()
    for pattern in (_GREETING, _OPENER, _TOLD, _OPENER, _TOLD):
        text = pattern.sub("", text, count=1).strip()
    return text.rstrip(".!").strip()


def news_in(line: str) -> str | None:
    """The news a line carries (its core), or None for greetings, small talk and farewells."""
    said = core(line)
    if len(said.split()) < 4 or _SMALL_TALK.search(said):
        return None
    return " ".join(said.split()[:MAX_CORE_WORDS])


def parse(text: str, name: str, other: str = "the other") -> Takeaway:
    """``- item`` lines (or ``- nothing new``), then an optional ``Next:`` line.

    A small model sometimes copies a line of the talk ("Klaus: I am going to buy bread") instead of
    noting it: such an item is kept as what ``other`` said, not as a fact in the first person.
    """
    learned: list[str] = []
    next_step = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            if learned:
                break
            continue
        if line.lower().startswith("next:"):
            step = line[5:].strip().rstrip(".")
            next_step = None if not step or _NOTHING.match(step) else step
            break
        if not line.startswith(("-", "*", "•")):
            break  # the list is over; the model has moved on
        item = line.lstrip("-*• ").strip().rstrip(".")
        if _LINE_COPY.match(item):
            item = f"{other} said: {_LINE_COPY.sub('', item, count=1)}"
        if _NOTHING.match(item) or len(item.split()) < 3:
            continue
        if item.lower() not in (i.lower() for i in learned):
            learned.append(item)
    if not learned and next_step is None and not _NOTHING.match(text.lstrip("-*• ")):
        raise Unparseable(f"no '- ...' lines about what {name} learned")
    return Takeaway(learned[:MAX_ITEMS], next_step)


def plain(me: Speaker, other: Speaker, conversation: Conversation) -> str:
    """The plain answer: the other's lines that carried news, and a plan to act on an invitation."""
    news = [n for who, line in conversation.lines if who == other.name and (n := news_in(line))]
    items = [f"{other.name} told {me.name}: {n}" for n in news[:2]] or ["nothing new"]
    invitation = next((n for n in news if _PLANS.search(n)), None)
    step = f"keep in mind what {other.name} said: {invitation}" if invitation else "nothing"
    return " " + "\n- ".join(items) + f"\nNext: {step}"


def take_away(me: Speaker, other: Speaker, conversation: Conversation, at: float) -> SubProcess[Takeaway]:
    """``me``'s take-away from ``conversation``, due at ``at``."""
    lines = conversation.transcript()
    is_grounded = grounded(me.ctx, at, (me.persona_text, conversation.where.place, lines))

    def check(result: Takeaway) -> None:
        if result.learned and copied_from_example(result.learned, "takeaway"):
            raise Unparseable("the answer repeats the prompt's example")
        is_grounded(*result.learned, result.next_step)

    return (yield from ask(
        me.ctx, me.name,
        render("takeaway", persona=me.persona_text, name=me.name, other=other.name,
               place=conversation.where.place, lines=lines),
        lambda text: parse(text, me.name, other.name), check=check, purpose="conversation_takeaway", max_tokens=96,
        stop=LIST_END, prefix="-", default=plain(me, other, conversation), due=at))
