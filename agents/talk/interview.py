"""An interview: a resident answers a question from what it remembers, naming only what it knows.

The answer is the resident's own line (``clean_line``; a line with nothing
in it stands as the plain "I'd rather not say"). One that names a person the
resident never met (no memory and nothing in its persona names them) or a
place the town does not have (``agents.llm.grounded``; times are the grader's
business: a wrong one is a wrong answer, not a made-up name) is refused, logged
(``parse_failed``) and asked again with another seed; when the retries are
spent the resident says what it was shown, not what it made up: "I remember
this: ..." with the memory that came to mind first, or "I don't remember."
without one (a ``fallback`` row says so).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from agentville.agents.llm.asking import RETRIES, Unparseable
from agentville.agents.llm.grounded import grounded
from agentville.agents.llm.templates import render
from agentville.sim.core import events

from .conversation import Speaker, clean_line

if TYPE_CHECKING:
    from agentville.agents.memory.stream import MemoryNode
    from agentville.sim.generation import TextRequest

MAX_TOKENS = 96
# the prompt's "[Mon 13:43]" before each memory, which a small model copies in front of its answer
_STAMP = re.compile(r"^(?:\s*\[[A-Z][a-z]{2} \d{1,2}:\d{2}\])+\s*")
INTERVIEWER = "Interviewer"


def interview_question(me: Speaker, question: str) -> tuple[TextRequest, Callable[[str], str]]:
    """The request an interview asks, and how its answer becomes ``me``'s (cleaned, checked, logged) reply.

    Each recalled memory is shown with when it came to mind ("[Mon 13:43]"), or "when did you..." and
    "where were you at..." could not be answered from memory at all.

    Split so that many agents' interviews can go to the model together; only a refused answer is asked
    again on its own.
    """
    ctx = me.ctx
    memories = me.recall(question, touch=False)
    shown = [f"[{ctx.clock.at(m.created):%a %H:%M}] {m.text}" for m in memories]
    prompt = render("interview", persona=me.persona_text, name=me.name, question=question,
                    memories="\n".join(f"- {m}" for m in shown) or "- nothing yet")
    plain = f"I'd rather not say much about that. Lately I've been {me.activity}."
    seed_key = f"{question}\x1f{len(me.memory)}\x1f{ctx.now}"
    request = ctx.llm.request_now(prompt, purpose="interview", agent=me.name, max_tokens=MAX_TOKENS, stop=("\n",),
                                  seed_key=seed_key, default=plain)
    # whom and what it may name: what it knows (persona, every memory), the question, the town's places
    check = grounded(ctx, ctx.now, (me.persona_text, question, *(m.text for m in me.memory)), residents=False,
                     times=False)

    def finish(answer: str) -> str:
        for attempt in range(RETRIES + 1):
            reply = own_line(answer, me.name, plain)
            try:
                if reply != plain:
                    check(reply)
                break
            except Unparseable as exc:
                if ctx.running:
                    ctx.log(events.PARSE_FAILED, me.name, purpose="interview", output=answer, reason=str(exc),
                            attempt=attempt + 1)
            if attempt < RETRIES:
                again = ctx.llm.request_now(prompt, purpose="interview", agent=me.name, max_tokens=MAX_TOKENS,
                                            stop=("\n",), seed_key=f"{seed_key}\x1fretry {attempt + 1}", default=plain)
                answer = ctx.llm.answer_now([again])[0]
        else:
            reply = remembered(memories)
            if ctx.running:
                ctx.log(events.FALLBACK, me.name, purpose="interview", value=reply)
        if ctx.running:
            ctx.log(events.INTERVIEW, me.name, question=question, answer=reply, memories=[m.id for m in memories])
        return reply

    return request, finish


def remembered(memories: list[MemoryNode]) -> str:
    """The extractive answer: the memory that came to mind first for the question, or that none did."""
    return f"I remember this: {memories[0].text}" if memories else "I don't remember."


def own_line(answer: str, name: str, plain: str) -> str:
    """The interviewee's line in ``answer``, or ``plain`` when there is none (an empty line, a bare name tag).

    A memory's time stamp copied from the prompt in front of the answer is not part of what it says.
    """
    try:
        return clean_line(_STAMP.sub("", answer), name, INTERVIEWER)
    except Unparseable:
        return plain
