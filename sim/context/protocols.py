"""What an agent may see and do: the small interface between the engine and cognition.

The engine hosts agents without knowing how they think: it is handed an
``AgentFactory`` and gives each agent its own ``AgentContext``
(``sim/runtime/view.py``). Cognition code types against these protocols only,
so it cannot reach into the engine, and the engine never imports the
``agents`` package. The map, the town and the model an agent is given are the
run's own, seen through read-only protocols (``Map``, ``TownView``,
``LanguageModel``); the town changes only through what the agent does itself.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Protocol, TypeVar

import numpy as np
import simpy

from agentville.sim.core.clock import Clock
from agentville.sim.core.location import Location
from agentville.sim.generation import Request, TextRequest
from agentville.sim.scenario.schema import CognitionSpec, PersonaSpec, PlaceSpec

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


class Map(Protocol):
    """The town's static map as agents read it (``World``): places, their parts and objects, names."""

    @property
    def places(self) -> Mapping[str, PlaceSpec]: ...

    @property
    def default_states(self) -> Mapping[Location, str]: ...

    @property
    def private_areas(self) -> Mapping[tuple[str, str], AbstractSet[str]]: ...

    def resolve(self, text: str, home: Location | None = None) -> Location: ...

    def places_named_in(self, text: str) -> list[str]: ...

    def places_known_to(self, persona: PersonaSpec) -> set[str]: ...

    def objects_in(self, place: str, area: str) -> list[Location]: ...


class TownView(Protocol):
    """What an agent sees of the town (``Town``): who is where, doing what since when, and objects' states."""

    @property
    def locations(self) -> Mapping[str, Location]: ...

    @property
    def activities(self) -> Mapping[str, str]: ...

    @property
    def since(self) -> Mapping[str, float]: ...

    def occupants(self, place: str, area: str) -> AbstractSet[str]: ...

    def area_objects(self, place: str, area: str) -> Mapping[Location, str]: ...

    def user(self, where: Location) -> str | None: ...


class LanguageModel(Protocol):
    """Asking the model (``GenerationService``): answers are simpy events due at a simulated time."""

    def text(self, prompt: str, *, purpose: str, agent: str | None = None, max_tokens: int | None = None,
             stop: tuple[str, ...] | list[str] = (), temperature: float | None = None,
             default: str | None = None, due: float | None = None, shape: str | None = None) -> simpy.Event: ...

    def choice(self, prompt: str, options: list[str] | tuple[str, ...], *, purpose: str,
               agent: str | None = None, default: str | None = None, due: float | None = None) -> simpy.Event: ...

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def request_now(self, prompt: str, *, purpose: str, agent: str | None, seed_key: str,
                    max_tokens: int | None = None, stop: tuple[str, ...] = (), default: str | None = None
                    ) -> TextRequest: ...

    def answer_now(self, requests: Sequence[Request]) -> list[str]: ...


class AgentContext(Protocol):
    """The world as one agent sees it and acts on it.

    Time and processes of its own; the map, what it sees of the town, the
    others by name; the model; the log. It changes the town only as itself:
    placed at the start, walking, starting an action, using or freeing an object.
    """

    @property
    def now(self) -> float: ...  # simulated seconds since the start (``clock`` turns them into date-times)

    @property
    def clock(self) -> Clock: ...

    @property
    def running(self) -> bool: ...  # whether the run is logging (interviews also happen before and after)

    @property
    def cognition(self) -> CognitionSpec: ...

    @property
    def world(self) -> Map: ...

    @property
    def town(self) -> TownView: ...

    @property
    def residents(self) -> Mapping[str, Agent]: ...

    @property
    def llm(self) -> LanguageModel: ...

    # -- time: simpy's events, and processes of its own ------------------------------
    def timeout(self, delay: float) -> simpy.Event: ...

    def event(self) -> simpy.Event: ...

    def all_of(self, events: Iterable[simpy.Event]) -> simpy.Event: ...

    def any_of(self, events: Iterable[simpy.Event]) -> simpy.Event: ...

    def process(self, generator: Process) -> simpy.Process: ...  # its own: its events sort as its own

    # -- the town, as itself ------------------------------------------------------------
    def place(self, where: Location) -> None: ...

    def walk(self, where: Location) -> SubProcess[None]: ...

    def start_action(self, activity: str, description: str) -> None: ...

    def use(self, obj: Location, state: str) -> None: ...

    def free(self, obj: Location) -> None: ...

    # -- the record ---------------------------------------------------------------------
    def log(self, kind: str, agent: str | None = None, /, **data: Any) -> None: ...

    def next_conversation_id(self) -> str: ...


AgentFactory = Callable[[AgentContext, PersonaSpec], Agent]

__all__ = ["Agent", "AgentContext", "AgentFactory", "LanguageModel", "Location", "Map", "Process", "Promises",
           "SubProcess", "TownView"]
