"""What an agent may see and do: the small interface between the engine and cognition.

The engine hosts agents without knowing how they think: it is handed an
``AgentFactory`` and gives each agent an ``AgentContext``. Cognition code
types against these protocols only, so it cannot reach into the engine, and
the engine never imports the ``agents`` package.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Generator, Mapping
from typing import Any, Protocol, TypeVar

import simpy

from agentville.sim.core.clock import Clock
from agentville.sim.core.kernel import Kernel
from agentville.sim.core.location import Location
from agentville.sim.generation import GenerationService, TextRequest
from agentville.sim.scenario.schema import CognitionSpec, PersonaSpec
from agentville.sim.world.geography import World
from agentville.sim.world.town import Town

from .promises import Promises

Process = Generator[simpy.Event, Any, Any]  # a simpy (sub-)process: ``yield from`` it
T = TypeVar("T")
SubProcess = Generator[simpy.Event, Any, T]
"""A simpy sub-process whose result is a ``T``: ``result = yield from sub_process``."""


class Agent(Protocol):
    """What the engine needs from an agent."""

    name: str
    promises: Promises  # until when it stays where it is (the scheduler's lookahead)

    def live(self) -> Process: ...

    def whisper(self, text: str) -> None: ...

    def interview(self, question: str) -> str: ...

    def interview_question(self, question: str) -> tuple[TextRequest, Callable[[str], str]]: ...


class AgentContext(Protocol):
    """The world as an agent sees it: time, the map, the town, the model, the log, the others."""

    env: Kernel
    clock: Clock
    world: World
    town: Town
    llm: GenerationService
    cognition: CognitionSpec

    @property
    def now(self) -> dt.datetime: ...

    @property
    def running(self) -> bool: ...

    @property
    def residents(self) -> Mapping[str, Agent]: ...

    def log(self, kind: str, agent: str | None = None, /, *, wall: dict[str, Any] | None = None,
            **data: Any) -> None: ...

    def next_conversation_id(self, starter: str) -> str: ...


AgentFactory = Callable[[AgentContext, PersonaSpec], Agent]

__all__ = ["Agent", "AgentContext", "AgentFactory", "Location", "Process", "Promises", "SubProcess"]
