"""What planning keeps between its steps: the day's plan, a revision asked for, the chunk prepared ahead, places.

The agent holds one ``Planning``; the planning modules write it (``days``
plans the day, ``revision`` revises it, ``ahead`` prepares the next chunk,
``places`` remembers where each activity happens) and the day loop
(``living``) reads it. Anything else only asks for a revision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentville.sim.core.location import Location

    from .ahead import NextChunk
    from .schedule import DayPlan


@dataclass
class Planning:
    """One agent's planning state."""

    plan: DayPlan | None = None  # the day being lived (None before the first one is planned)
    replan_reason: str | None = None  # something happened: the day is revised before going on
    next_chunk: NextChunk | None = None  # the next chunk of the day, being prepared (``ahead``)
    where_for: dict[str, Location] = field(default_factory=dict)  # where each activity (lower case) happens

    def ask_to_revise(self, reason: str) -> None:
        """Revise the day, for ``reason``, before going on with it (a conversation, a thought)."""
        self.replan_reason = reason
