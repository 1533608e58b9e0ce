"""A conversation's data and text: who talks where, the lines said, and what makes a line a line.

``dialogue`` runs a conversation between two ``Speaker``s; this module holds
what it, the agents and the take-aways share: the ``Conversation`` record,
the cleaning of a model's line and summary, and how long a line takes to say.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import simpy

from agentville.agents.llm.asking import Unparseable

if TYPE_CHECKING:
    from agentville.agents.memory.stream import Impression, MemoryNode, MemoryStream
    from agentville.sim.context import AgentContext
    from agentville.sim.core.location import Location
    from agentville.sim.scenario.schema import CognitionSpec

SECONDS_PER_WORD = 0.4  # speaking pace
MIN_LINE_SECONDS = 5.0
MAX_LINE_CHARS = 300
_NAME_TAG = re.compile(r"^[A-Z][\w.'-]*(?: [A-Z][\w.'-]*){0,3}\s*:$")  # "Sam Moore:" says nothing


@dataclass
class Conversation:
    id: str
    starter: str
    partner: str
    where: Location
    started: float
    done: simpy.Event
    lines: list[tuple[str, str]] = field(default_factory=list)

    def transcript(self, empty: str = "") -> str:
        return "\n".join(f"{who}: {text}" for who, text in self.lines) or empty


def line_seconds(text: str) -> float:
    return max(MIN_LINE_SECONDS, SECONDS_PER_WORD * len(text.split()))


def clean_line(text: str, speaker: str, listener: str, said: tuple[str, ...] = ()) -> str:
    """The speaker's own line: first line only, no name tag, no quotes, not the listener's reply.

    A line must say something (a word or a number): a bare name tag ("Sam Moore:"), an empty line
    or (given ``said``) a repeat of a line already said is refused.
    """
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = line.lstrip("-*• ").strip()
    for name in (speaker, speaker.split()[0]):
        if line.lower().startswith(name.lower() + ":"):
            line = line[len(name) + 1:]
    for name in (listener, listener.split()[0]):
        cut = line.find(name + ":")
        if cut == 0:
            raise Unparseable("the listener's line, not the speaker's")
        if cut > 0:
            line = line[:cut]
    line = line.strip().strip('"').strip()
    if not any(c.isalnum() for c in line):  # "34" answers "How old are you?"; "..." says nothing
        raise Unparseable("empty line")
    if _NAME_TAG.match(line) and line.endswith(":"):
        raise Unparseable("only a name tag")
    if said:
        not_said_before(line, said)
    return line[:MAX_LINE_CHARS]


def not_said_before(line: str, said: tuple[str, ...]) -> None:
    """Refuse a model's line that repeats one already said (the plain line may: it is small talk)."""
    if plain_words(line) in {plain_words(s) for s in said}:
        raise Unparseable("repeats a line already said")


def plain_words(line: str) -> str:
    return " ".join(re.findall(r"[a-z0-9']+", line.lower()))


def clean_summary(text: str) -> str:
    summary = text.strip().splitlines()[0].strip() if text.strip() else ""
    if len(summary.split()) < 4:
        raise Unparseable("the summary is too short")
    return summary[:MAX_LINE_CHARS]


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
