"""What a conversation and a reflection need from an agent, as small protocols.

``dialogue`` and ``reflection`` touch only a few things of the agents taking
part. Typing them against these protocols, not the concrete
``GenerativeAgent``, says exactly which, keeps those modules free of the
agent's internals (and of an import cycle with ``generative``), and lets a
stand-in agent drive them. ``SubProcess`` is the type of every simpy
sub-process in the package.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import simpy

if TYPE_CHECKING:
    from agentville.sim.context import AgentContext
    from agentville.sim.location import Location
    from agentville.sim.scenario import CognitionSpec

    from .dialogue import Conversation
    from .memory import Impression, MemoryNode, MemoryStream

T = TypeVar("T")

SubProcess = Generator[simpy.Event, Any, T]
"""A simpy sub-process whose result is a ``T``: ``result = yield from sub_process``."""


class Speaker(Protocol):
    """One side of a conversation (``dialogue.converse``): what it is doing, remembers and learns."""

    name: str
    ctx: AgentContext
    cognition: CognitionSpec
    activity: str
    currently: str  # what it is up to these days (revised daily)
    memory: MemoryStream
    last_talked: dict[str, float]

    @property
    def location(self) -> Location: ...

    @property
    def persona_text(self) -> str: ...

    def join(self, conversation: Conversation) -> None: ...

    def leave(self, conversation: Conversation) -> None: ...

    def recall(self, query: str, *, touch: bool = True) -> list[MemoryNode]: ...

    def remember_all(self, impressions: Sequence[Impression]) -> simpy.Process: ...

    def learn_places(self, text: str) -> None: ...

    def ask_to_replan(self, reason: str) -> None: ...


class Reflector(Protocol):
    """An agent that reflects (``reflection.reflect``): its memories, read, recalled and added to."""

    name: str
    ctx: AgentContext
    memory: MemoryStream

    def recall(self, query: str, *, k: int | None = None, touch: bool = True) -> list[MemoryNode]: ...

    def remember_all(self, impressions: Sequence[Impression], *, delay: float = ...) -> simpy.Process: ...
