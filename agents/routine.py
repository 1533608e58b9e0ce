"""An agent that lives its persona's habitual day.

This is the behaviour before full cognition: each step of the persona's
routine happens at its time of day (give or take a few seeded minutes), the
agent walks there, uses the object, and asks the language model for a
one-line description of what it is doing. It already keeps a memory stream:
seed memories from the persona, what it perceives where it arrives, and the
inner-voice lines it is whispered, each rated for importance by the model.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import TYPE_CHECKING, Iterator

import simpy

from sim.scenario import PersonaSpec, RoutineStep
from sim.world import Location

from .memory import MemoryNode, MemoryStream, rate_importance
from .perception import Perception

if TYPE_CHECKING:
    from sim.engine import Simulation

JITTER_MINUTES = (-5.0, 10.0)
AT_HOME = RoutineStep(at="00:00", activity="spending the day at home", place="home")


class RoutineAgent:
    def __init__(self, sim: Simulation, persona: PersonaSpec):
        self.sim, self.persona, self.name = sim, persona, persona.name
        self.home = sim.world.resolve(persona.home)
        self.location = self.home
        self.rng = random.Random(f"{sim.seed}:{persona.name}")
        self.steps = persona.routine or [AT_HOME]
        self.thoughts: list[str] = []
        self.memory = MemoryStream()
        self.perception = Perception(self.name)

    @property
    def summary(self) -> str:
        """Who the agent is, in one line (the person rating its memories)."""
        return f"{self.name}, {self.persona.age}, {self.persona.traits}"

    def whisper(self, text: str) -> None:
        """An inner-voice line: the agent takes it as its own thought, and remembers it."""
        self.thoughts.append(text)
        self.sim.env.process(self.remember("thought", text))

    def remember(self, kind: str, text: str, *, subject: str | None = None) -> Iterator[simpy.Event]:
        """A simpy sub-process: rate, embed and store one memory, and log it."""
        sim = self.sim
        importance = yield from rate_importance(sim.llm, self.name, self.summary, text)
        node: MemoryNode = self.memory.add(kind, text, now=sim.env.now, importance=importance,
                                           embedding=sim.llm.embed([text])[0], subject=subject)
        sim.log("memory", self.name, id=node.id, kind=kind, text=text, importance=node.importance,
                subject=subject, evidence=list(node.evidence), depth=node.depth)
        return node

    def schedule(self) -> Iterator[tuple[float, RoutineStep]]:
        """(sim seconds, step) for ever: first the step under way at the start, then each in turn."""
        clock = self.sim.clock
        start_minute = clock.start.hour * 60 + clock.start.minute
        current = [s for s in self.steps if s.minute_of_day <= start_minute] or self.steps[-1:]
        yield 0.0, current[-1]
        midnight = clock.start.replace(hour=0, minute=0, second=0, microsecond=0)
        day = 0
        while True:
            for step in self.steps:
                moment = midnight + dt.timedelta(days=day, minutes=step.minute_of_day)
                if moment > clock.start:
                    yield clock.seconds(moment) + self.rng.uniform(*JITTER_MINUTES) * 60, step
            day += 1

    def live(self) -> Iterator[simpy.Event]:
        sim = self.sim
        sim.place(self, self.home)
        for text in self.persona.memories:
            yield from self.remember("event", text)
        for due, step in self.schedule():
            if due > sim.env.now:
                yield sim.env.timeout(due - sim.env.now)
            yield from self.do(step)

    def do(self, step: RoutineStep) -> Iterator[simpy.Event]:
        sim = self.sim
        target = sim.world.resolve(step.place, self.home)
        if self.location.object:
            sim.set_object(self.location, None, self.name)
        if target.area_key != self.location.area_key:
            yield from sim.move(self, target)
        self.location = target
        plain = f"{self.name} is {step.activity}."
        description = yield sim.llm.text(self.describe_prompt(step), purpose="describe_action", agent=self.name,
                                         max_tokens=24, stop=("\n",), default=plain)
        sim.start_action(self, step.activity, description.strip() or plain)
        if target.object:
            sim.set_object(target, f"in use by {self.name}: {step.activity}", self.name)
        for observation in self.perception.notice(sim, self.location):
            yield from self.remember("event", observation.text, subject=observation.subject)

    def describe_prompt(self, step: RoutineStep) -> str:
        """A completion-style prompt with one worked example, so small base models follow the format."""
        when = self.sim.now.strftime("%A %H:%M")
        thought = f" On their mind: {self.thoughts[-1]}" if self.thoughts else ""
        return ("Each line says what a person is doing, in one short sentence.\n\n"
                "Person: Tom, 45, friendly. Time: Monday 08:10. Place: the grocery store, checkout counter. "
                "Activity: opening the shop.\nSentence: Tom unlocks the door and turns on the till.\n\n"
                f"Person: {self.name}, {self.persona.age}, {self.persona.traits}.{thought} Time: {when}. "
                f"Place: {self.location}. Activity: {step.activity}.\nSentence:")
