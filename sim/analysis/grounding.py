"""Names nobody in the town has: capitalised names in what agents said, planned and remembered that
are neither residents nor places, areas or objects, nor words of the scenario the run started from.

A name is a run of capitalised words. The first word of a sentence is
capitalised anyway, so it is left out of the run ("Thanks Maria" names Maria);
a lone capitalised word that starts a sentence is therefore never counted
(a lower bound: "Zorblax is here." passes, "I met Zorblax." does not). A name
is grounded when each of its words (possessive ending dropped) is a word of the
scenario (its personas, places and texts, any case), of the log's residents,
added personas and whispers, or a calendar word. What is left is an upper
bound on made-up people and places: a physics student's "Newton" counts too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from agentville.sim.core.events import AGENT_ADDED, INTERVENTION, MEMORY, PLAN, RUN_STARTED, UTTERANCE

from . import naming

TEXT_KINDS = (UTTERANCE, PLAN, MEMORY)  # what an agent says, plans and remembers
CALENDAR = (*naming.CALENDAR, *"i im ive ill id ok okay mr mrs ms dr am pm".split())  # and words said as names
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
_NAME = re.compile(r"[A-Z][\w'’-]*(?:[ \t]+[A-Z][\w'’-]*)*")
_WORD = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_POSSESSIVE = re.compile(r"['’]s?$")
_CUT = re.compile(r"[^\W\d_]$")  # a text ending in a letter, no full stop: perhaps cut off


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


def _words(text: str) -> set[str]:
    return {_POSSESSIVE.sub("", w).lower() for w in _WORD.findall(text)} | {w.lower() for w in _WORD.findall(text)}


def vocabulary(scenario_fields: Any, log_rows: Iterable[tuple[str, Any]]) -> frozenset[str]:
    """The words a grounded name may use: the scenario's (a ``model_dump``), and those of the log's
    ``(kind, data)`` rows that introduce people or texts (run start, added agents, whispers)."""
    known = set(CALENDAR)
    for text in strings(scenario_fields):
        known |= _words(text)
    for kind, data in log_rows:
        if kind in (RUN_STARTED, AGENT_ADDED, INTERVENTION):
            for text in strings(data):
                known |= _words(text)
    return frozenset(known)


def names_in(text: str) -> list[str]:
    """The capitalised names in ``text``, each without a sentence's first word."""
    found = []
    for sentence in _SENTENCE.split(text):
        first = re.search(r"[^\W\d_]", sentence)
        for match in _NAME.finditer(sentence):
            words = match.group().split()
            if first is not None and match.start() == first.start():
                words = words[1:]
            if words:
                found.append(" ".join(words))
    return found


def ungrounded(text: str, known: frozenset[str]) -> list[str]:
    """The names in ``text`` with a word outside ``known`` (in order, each once). A text cut off mid-word
    (a summary at its length limit: "... Isabella Rodri") may end in the start of a known word."""
    cut = _CUT.search(text)
    strange: list[str] = []
    for name in names_in(text):
        words = [_POSSESSIVE.sub("", w).lower() for w in _WORD.findall(name)]
        if cut and text.endswith(name) and any(k.startswith(words[-1]) for k in known):
            words.pop()
        if any(w not in known for w in words) and name not in strange:
            strange.append(name)
    return strange


def text_of(kind: str, data: dict[str, Any]) -> str:
    """What an agent wrote in a row of ``TEXT_KINDS``: a line, a memory, or a plan's words (not its times)."""
    if kind == UTTERANCE:
        return str(data.get("text", ""))
    if kind == MEMORY:
        return str(data.get("text", ""))
    fields = {k: v for k, v in data.items() if k in ("strokes", "schedule", "reason", "activity", "steps")}
    return "\n".join(strings(fields))
