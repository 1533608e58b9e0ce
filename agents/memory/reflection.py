"""Reflection: turning many observations into a few higher-level thoughts.

When the importance of an agent's new memories adds up past a threshold, it
asks itself three questions about its recent memories, retrieves memories
for each, and writes up to five insights per question, each citing the
memories it rests on. Insights are thoughts one level deeper than their
deepest evidence, so reflections can build on reflections.

An insight must be the model's own: when its answer does not parse, the
agent concludes nothing (a plain answer that restated a memory would be
rated, stored and then restated again by the next reflection). A conclusion
it already holds, or one it draws twice in one reflection, is not stored
again.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from typing import TYPE_CHECKING, Protocol

from agentville.agents.llm import shapes
from agentville.agents.llm.asking import LIST_END, Unparseable, ask
from agentville.agents.llm.templates import numbered, render
from agentville.agents.llm.timing import THINKING_S
from agentville.sim.core import events

from .stream import Impression

if TYPE_CHECKING:
    from collections.abc import Sequence

    import simpy

    from agentville.sim.context import AgentContext, SubProcess

    from .stream import MemoryNode, MemoryStream

RECENT = 100  # memories the questions are drawn from
QUESTIONS = 3
INSIGHTS = 5
EVIDENCE_K = 8
_NUMBERED = re.compile(r"^\s*\d+\s*[.)]\s*(.+?)\s*$")
NOTHING = "(nothing new)"
_WORDS = re.compile(r"[^\W_]+")
_CITED = re.compile(r"^(.*?)\s*[(\[]\s*(?:because of|based on|from|see)?\s*(?:statements?|memories|#)?\s*"
                    r"([\d,;&\sand]+)[)\]]\s*\.?$", re.I)


class Reflector(Protocol):
    """An agent that reflects (``reflection.reflect``): its memories, read, recalled and added to."""

    name: str
    ctx: AgentContext
    memory: MemoryStream

    def recall(self, query: str, *, k: int | None = None, touch: bool = True) -> list[MemoryNode]: ...

    def remember_all(self, impressions: Sequence[Impression], *, delay: float = ...) -> simpy.Process: ...


def parse_questions(text: str) -> list[str]:
    questions = []
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if match and len(match.group(1).split()) >= 3:
            questions.append(match.group(1).strip())
        elif questions:
            break
    if not questions:
        raise Unparseable("no numbered questions")
    return questions[:QUESTIONS]


def parse_insights(text: str, statements: int) -> list[tuple[str, list[int]]]:
    """(insight, cited statement numbers) pairs; an insight that cites nothing valid is dropped.

    The plain answer, ``NOTHING``, is no insight at all.
    """
    if text.strip().removeprefix("1.").strip() == NOTHING:
        return []
    insights: list[tuple[str, list[int]]] = []
    for line in text.splitlines():
        match = _NUMBERED.match(line)
        if not match:
            if insights:
                break
            continue
        cited = _CITED.match(match.group(1))
        if not cited:
            continue
        numbers = sorted({int(n) for n in re.findall(r"\d+", cited.group(2)) if 1 <= int(n) <= statements})
        body = cited.group(1).strip().rstrip(".,;:")
        if numbers and len(body.split()) >= 3:
            insights.append((body, numbers))
    if not insights:
        raise Unparseable("no insight citing its statements, like '1. ... (because of 2, 3)'")
    return insights[:INSIGHTS]


def default_questions(agent: Reflector, recent: list[MemoryNode]) -> str:
    """Plain questions about the subjects that come up most in the recent memories."""
    subjects = [s for s, _ in Counter(m.subject for m in recent if m.subject and m.subject != agent.name)
                .most_common(QUESTIONS)]
    questions = [f"What does {agent.name} think of {s}?" for s in subjects]
    questions += [f"What is {agent.name} most focused on these days?",
                  f"How is {agent.name} getting on with the people around?",
                  f"What does {agent.name} want to do next?"][: QUESTIONS - len(questions)]
    return " " + "\n".join(f"{i}. {q}" if i > 1 else q for i, q in enumerate(questions, 1))


def default_insights() -> str:
    """The plain answer: no conclusion (it parses to none)."""
    return f" {NOTHING}"


def normalized(text: str) -> str:
    """An insight's words, for telling the same conclusion apart from a new one (case and punctuation aside)."""
    return " ".join(_WORDS.findall(text.lower()))


def new_insights(agent: Reflector, impressions: list[Impression]) -> list[Impression]:
    """The insights that are neither a thought the agent already has nor one already drawn in this reflection."""
    known = {normalized(m.text) for m in agent.memory if m.kind == "thought"}
    fresh = []
    for impression in impressions:
        key = normalized(impression.text)
        if key and key not in known:
            known.add(key)
            fresh.append(impression)
    return fresh


def reflect(agent: Reflector) -> SubProcess[None]:
    """A simpy sub-process: questions; retrieval for all of them; all insights asked at once; then remembered.

    It runs beside the agent's day (the agent does not stop to think). Each
    step is due ``THINKING_S`` after it is asked. Evidence is retrieved for
    every question before any insight exists, so the insights of one
    question never cite those of another, and their requests go together.
    """
    ctx = agent.ctx
    recent = agent.memory.recent(RECENT)
    questions = yield from ask(
        ctx, agent.name, render("questions", name=agent.name, statements="\n".join(f"- {m.text}" for m in recent)),
        parse_questions, purpose="reflection_questions", max_tokens=72, stop=LIST_END, prefix="1.",
        shape=shapes.questions(72),
        default=default_questions(agent, recent), due=ctx.now + THINKING_S)
    found = [(question, agent.recall(question, k=EVIDENCE_K, touch=True)) for question in questions]
    found = [(question, evidence) for question, evidence in found if evidence]
    due = ctx.now + THINKING_S
    asked = [ctx.process(ask(
        ctx, agent.name, render("insights", name=agent.name, question=question,
                                statements=numbered([m.text for m in evidence])),
        functools.partial(parse_insights, statements=len(evidence)), purpose="reflection_insights",
        max_tokens=160, stop=LIST_END, prefix="1.", default=default_insights(), due=due,
        shape=shapes.insights(len(evidence), 160)))
        for question, evidence in found]
    impressions = []
    for (_, evidence), process in zip(found, asked, strict=True):
        for text, cited in (yield process):
            sources = [evidence[i - 1] for i in cited]
            impressions.append(Impression("thought", text, evidence=tuple(m.id for m in sources),
                                          depth=1 + max(m.depth for m in sources)))
    impressions = new_insights(agent, impressions)
    nodes = (yield agent.remember_all(impressions)) if impressions else []
    ctx.log(events.REFLECTION, agent.name, questions=questions, insights=[node.id for node in nodes])
