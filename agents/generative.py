"""A generative agent: perceive, remember, plan, act, react, talk, reflect.

One simpy process per agent runs ``live``: it plans each day when the agent
wakes up (the plan draws on what it remembers), works through the schedule
an hour at a time in 5-15 minute steps, notices what is around it whenever it
starts a step, may talk to someone it sees, revises the rest of its day
after a conversation or an inner-voice thought, reflects when enough has
happened, and, falling asleep, looks back over its day (revising what it is
busy with these days) and sleeps until the next wake-up. Nothing polls: every wake-up of
the process is a step ending, an answer arriving or a conversation starting.

This module is the agent itself: who it is, what it knows and remembers,
what others may do to it (whisper, talk, interview) and the outline of its
life. The parts of that life are functions taking the agent, one module per
concern, so each reads in one sitting: ``days`` (wake up, plan, revise, live
the day), ``places`` (where to do something), ``acting`` (go, act, react,
wait, sleep), ``dialogue`` (talk), ``reflection`` (reflect) and ``identity``
(who it is these days, revised every night).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import simpy

from agentville.sim.context.promises import Promises
from agentville.sim.core import events
from agentville.sim.scenario.schema import CognitionSpec, PersonaSpec

from . import acting, living
from .acting import ACTING, AWAKE, TALKING
from .llm.templates import render
from .llm.timing import CONSOLIDATION_S, FALLING_ASLEEP_S
from .memory import identity
from .memory.importance import Importance
from .memory.reflection import reflect
from .memory.stream import Impression, MemoryNode, MemoryStream, RetrievalWeights, ask_importance
from .perception import Perception
from .planning import days
from .planning.state import Planning
from .talk import interview
from .talk.conversation import Conversation

if TYPE_CHECKING:
    from agentville.sim.context import SubProcess
    from agentville.sim.context.protocols import AgentContext, AgentFactory
    from agentville.sim.core.location import Location
    from agentville.sim.generation import TextRequest

MIN_SLEEP_S = 4 * 3600


class GenerativeAgent:
    def __init__(self, ctx: AgentContext, persona: PersonaSpec, importance: Importance | None = None):
        """``importance``: the run's, shared by its agents (``sim.runtime.runner``); by default one of its own."""
        self.ctx, self.persona, self.name = ctx, persona, persona.name
        self.cognition: CognitionSpec = ctx.cognition
        c = self.cognition
        self.importance = importance or Importance(c.importance)
        self.memory = MemoryStream(RetrievalWeights(c.recency_weight, c.importance_weight, c.relevance_weight))
        self.perception = Perception(self.name, bandwidth=c.attention_bandwidth)
        self.home = ctx.world.resolve(persona.home)
        self.state = AWAKE
        self.activity = "waking up"  # what it is doing (a conversation or a wait for someone only interrupts it)
        self.currently = persona.currently.strip()  # what it is busy with these days, revised nightly (identity)
        self.identity_upto = len(persona.memories) - 1  # identity: the last memory the revision has looked at
        self._persona_text = ("", "")  # (currently, the persona block rendered with it)
        self.promises = Promises()  # until when it stays put, for the engine's lookahead (kept by ``acting``)
        self.conversation: Conversation | None = None
        self.last_talked: dict[str, float] = {}
        self.planning = Planning()  # the day's plan and what planning keeps with it (its modules write it)
        # Kept here for the modules that do the agent's life:
        self.interrupt: simpy.Event | None = None  # acting: during a step, fired when a conversation starts
        self.considered: dict[str, float] = {}  # acting: when each person was last considered for a reaction
        self._ratings: dict[str, int] = {}
        self._pending_ratings: dict[str, simpy.Event] = {}  # ratings asked and not yet delivered, by text
        self.reflecting: simpy.Process | None = None
        self._reflected_upto = -1
        # Its home, routine and the places its texts name; its `knows` or the town's public places (sim.world).
        self.known_places: set[str] = ctx.world.places_known_to(persona)

    # -- who it is -------------------------------------------------------------
    @property
    def location(self) -> Location:
        """Where the agent is (the town owns it; home until the agent is placed)."""
        return self.ctx.town.locations.get(self.name, self.home)

    @property
    def summary(self) -> str:
        """Who the agent is, in one line (the person rating its memories)."""
        return f"{self.name}, {self.persona.age}, {self.persona.traits}"

    @property
    def persona_text(self) -> str:
        """The persona block every prompt starts with (first, so prompts of one agent share a prefix).

        It says who the agent is now: rendered again only when ``currently`` was revised, identical otherwise.
        """
        if not self._persona_text[1] or self._persona_text[0] != self.currently:
            p = self.persona
            self._persona_text = (self.currently, render(
                "persona", name=p.name, age=p.age, traits=p.traits, learned=p.learned.strip(),
                currently=self.currently, lifestyle=p.lifestyle.strip() or "ordinary").strip())
        return self._persona_text[1]

    # -- memory ------------------------------------------------------------------
    def remember(self, kind: str, text: str, *, subject: str | None = None, evidence: tuple[int, ...] = (),
                 depth: int = 0, source: str | None = None) -> simpy.Process:
        """Consolidate one memory in the background (see ``remember_all``); the process's value is its node."""
        return self.remember_all([Impression(kind, text, subject, evidence, depth, source)])

    def remember_all(self, impressions: Sequence[Impression], *, delay: float = CONSOLIDATION_S) -> simpy.Process:
        """Consolidate memories in the background: the agent goes on while they are rated.

        All of them are rated together (by the model: one request each, asked
        now, due ``delay`` later; or from their embeddings: ``importance``);
        then they are embedded and enter the stream and the log, in the order
        given, at that moment. The returned process's value
        is the list of nodes, for whoever must wait for them (a reflection).
        """
        return self.ctx.process(self._consolidate(list(impressions), self.ctx.now + delay))

    def _consolidate(self, impressions: list[Impression], due: float) -> SubProcess[list[MemoryNode]]:
        ctx = self.ctx
        asked: dict[str, simpy.Event] = {}
        by_model = self.importance.by_model
        for impression in impressions if by_model else ():
            text = impression.text
            if text in self._ratings or text in asked:
                continue  # a text is rated once, even when it is noticed again while its rating is pending
            if text not in self._pending_ratings:
                self._pending_ratings[text] = ask_importance(ctx.llm, self.name, self.summary, text, due=due)
            asked[text] = self._pending_ratings[text]
        if asked:
            yield ctx.all_of(list(asked.values()))
        if due > ctx.now:
            yield ctx.timeout(due - ctx.now)
        for text, answer in asked.items():
            self._ratings[text] = int(str(answer.value))
            self._pending_ratings.pop(text, None)
        vectors = ctx.llm.embed([i.text for i in impressions])
        ratings = ([self._ratings[i.text] for i in impressions] if by_model
                   else self.importance.estimator(ctx.llm).rate(vectors))
        nodes = []
        for impression, vector, rating in zip(impressions, vectors, ratings, strict=True):
            node = self.memory.add(impression.kind, impression.text, now=ctx.now, importance=rating, embedding=vector,
                                   subject=impression.subject, evidence=impression.evidence, depth=impression.depth,
                                   source=impression.source)
            learned_in: dict[str, Any] = {"source": node.source} if node.source else {}
            ctx.log(events.MEMORY, self.name, id=node.id, kind=node.kind, text=node.text, importance=node.importance,
                    importance_source=self.importance.source, subject=node.subject, evidence=list(node.evidence),
                    depth=node.depth, **learned_in)
            nodes.append(node)
        return nodes

    def recall(self, query: str, *, k: int | None = None, touch: bool = True) -> list[MemoryNode]:
        """The memories that bear on ``query``; with retrieval off, simply the most recent ones; none with memory off.

        ``touch=False`` leaves them as they were (not marked accessed), for looking without living.
        """
        k = k or self.cognition.retrieval_k
        if not self.cognition.memory:
            return []
        if not self.cognition.retrieval:
            return self.memory.recent(k)[::-1]
        return self.memory.retrieve(self.ctx.llm.embed([query])[0], now=self.ctx.now, k=k, touch=touch)

    def learn_places(self, text: str, *, log: bool = True) -> None:
        """Places named in ``text`` become known (heard of in a conversation, a thought, a memory).

        Names are matched as people say them ("the Willow Market"; ``sim.core.placenames``), aliases included.
        """
        for place in self.ctx.world.places_named_in(text):
            if place not in self.known_places:
                self.known_places.add(place)
                if log and self.ctx.running:
                    self.ctx.log(events.LEARNED_PLACE, self.name, place=place)

    def wants_to_reflect(self) -> bool:
        return (self.cognition.reflection and self.cognition.memory
                and self.memory.importance_since(self._reflected_upto) >= self.cognition.reflection_threshold)

    def maybe_reflect(self) -> None:
        """Start reflecting in the background when enough has happened (and it is not reflecting already)."""
        if self.reflecting is None and self.wants_to_reflect():
            self.reflecting = self.ctx.process(self._reflect())

    def _reflect(self) -> SubProcess[None]:
        try:
            yield from reflect(self)
        finally:  # what was remembered so far no longer counts towards the next reflection
            self._reflected_upto = len(self.memory) - 1
            self.reflecting = None

    # -- what others can do to it ------------------------------------------------
    def whisper(self, text: str) -> None:
        """An inner-voice line: the agent takes it as its own thought, remembers it and rethinks its day."""
        self.learn_places(text)
        self.remember("thought", text)
        self.ask_to_replan(f"{self.name} thought: {text}")
        acting.stay_for_the_step_only(self)  # it rethinks its day when the step ends

    def ask_to_replan(self, reason: str) -> None:
        self.planning.ask_to_revise(reason)

    def available(self) -> bool:
        """Can someone start a conversation with it now?"""
        return self.state == ACTING and self.conversation is None and self.interrupt is not None

    def join(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.state = TALKING
        acting.stay_while_talking(self)
        other = conversation.partner if conversation.starter == self.name else conversation.starter
        self.ctx.start_action(f"talking with {other}", f"{self.name} is talking with {other}")
        if self.interrupt is not None and not self.interrupt.triggered:
            self.interrupt.succeed()

    def leave(self, conversation: Conversation) -> None:
        """The conversation is over: it is seen going back to what it was doing (until its next step)."""
        self.conversation = None
        self.state = AWAKE
        self.ctx.start_action(self.activity, f"{self.name} is {self.activity}")

    def interview(self, question: str) -> str:
        """Answer ``question`` from memory, without changing the agent (no memory touched, no seed used)."""
        request, finish = self.interview_question(question)
        return finish(self.ctx.llm.answer_now([request])[0])

    def interview_question(self, question: str) -> tuple[TextRequest, Callable[[str], str]]:
        """The request an interview asks, and how its answer becomes the agent's reply (``talk.interview``)."""
        return interview.interview_question(self, question)

    # -- the life ------------------------------------------------------------------
    def live(self) -> SubProcess[None]:
        """The agent's simpy process: first memories, then day after day (or moment to moment, unplanned)."""
        ctx = self.ctx
        ctx.place(self.home)
        yield self.remember_all([Impression("event", text) for text in self.persona.memories], delay=0)
        if not self.cognition.planning:
            yield from living.live_moment_to_moment(self)
            return
        # Starting in its waking hours it is up (a night worker's may have begun yesterday); late in its day
        # it sleeps, then plans the next; otherwise it decides when to get up.
        day, up = days.first_day(self, ctx.now)
        wake = ctx.now if up else max((yield from days.choose_wake(self, day)), ctx.now)
        strokes: simpy.Process | None = None
        while True:
            if wake > ctx.now:
                yield from acting.sleep_until(self, wake)
            yield from days.plan_day(self, day, wake, strokes)
            yield from living.live_day(self)
            # Falling asleep it decides when to get up; the next day's plan is then asked, due on waking.
            day = day + dt.timedelta(days=1)
            yield from acting.fall_asleep(self)
            ctx.process(identity.revise_identity(self, day))  # beside the night (identity)
            asleep = ctx.now
            acting.stay_until(self, asleep + MIN_SLEEP_S)  # however early it decides to wake
            while days.day_over(self, day, asleep + MIN_SLEEP_S):  # asleep so late that this day is gone too
                day = day + dt.timedelta(days=1)
            wake = yield from days.choose_wake(self, day, due=asleep + FALLING_ASLEEP_S)
            wake = max(wake, asleep + MIN_SLEEP_S)
            strokes = ctx.process(days.day_strokes(self, day, wake, due=wake))


if TYPE_CHECKING:
    _factory: AgentFactory = GenerativeAgent  # what the engine is handed (sim/runtime/runner.py) must type-check
