"""Names nobody in the town has: capitalised names in what agents said, planned and remembered that
are neither residents nor places, areas or objects, nor words of the scenario the run started from.

A name is a run of capitalised words not opening a sentence (``sim.core.mentions``,
which the agents' own check of their answers shares). A name
is grounded when each of its words (possessive ending dropped) is a word of the
scenario (its personas, places and texts, any case), of the log's residents,
added personas and whispers, or a calendar word. What is left is an upper
bound on made-up people and places: a physics student's "Newton" counts too.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from agentville.sim.core import mentions
from agentville.sim.core.events import AGENT_ADDED, INTERVENTION, MEMORY, PLAN, RUN_STARTED, UTTERANCE
from agentville.sim.core.mentions import names_in as names_in  # the names a text uses: shared with the agents
from agentville.sim.core.mentions import ungrounded as ungrounded

TEXT_KINDS = (UTTERANCE, PLAN, MEMORY)  # what an agent says, plans and remembers
CALENDAR = (*mentions.CALENDAR, *"i im ive ill id ok okay mr mrs ms dr am pm".split())  # and words said as names


def strings(value: Any) -> Iterator[str]:
    """Every string in a nested payload (dicts, lists), in order."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from strings(item)


def vocabulary(scenario_fields: Any, log_rows: Iterable[tuple[str, Any]]) -> frozenset[str]:
    """The words a grounded name may use: the scenario's (a ``model_dump``), and those of the log's
    ``(kind, data)`` rows that introduce people or texts (run start, added agents, whispers)."""
    known = set(CALENDAR)
    for text in strings(scenario_fields):
        known |= mentions.words_of(text)
    for kind, data in log_rows:
        if kind in (RUN_STARTED, AGENT_ADDED, INTERVENTION):
            for text in strings(data):
                known |= mentions.words_of(text)
    return frozenset(known)


def text_of(kind: str, data: dict[str, Any]) -> str:
    """What an agent wrote in a row of ``TEXT_KINDS``: a line, a memory, or a plan's words (not its times)."""
    if kind == UTTERANCE:
        return str(data.get("text", ""))
    if kind == MEMORY:
        return str(data.get("text", ""))
    fields = {k: v for k, v in data.items() if k in ("strokes", "schedule", "reason", "activity", "steps")}
    return "\n".join(strings(fields))
