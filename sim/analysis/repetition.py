"""Saying the same thing again: repeated lines and near-duplicate activities, read from a run's events.

Two texts are the same line when they match after case, punctuation and spacing
are normalised, or nearly (``difflib`` ratio at least ``NEAR``: "See you
tomorrow!" and "see you tomorrow, Maria" are not; "I'm fine." and "Im fine" are).
A line is compared with everything said before in its conversation and with
the speaker's last ``WINDOW`` lines (exact repeats with all of them), so the
cost per line is bounded however long the run.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from difflib import SequenceMatcher

NEAR = 0.9
WINDOW = 50
_NOT_WORD = re.compile(r"[^\w\s]+")
_PHASE = re.compile(r"^\s*(?:getting started|wrapping up)\s*:\s*", re.I)  # the steps of one activity


def normalised(text: str) -> str:
    """Lower case, no punctuation, single spaces: the form two texts are compared in."""
    return " ".join(_NOT_WORD.sub("", text.lower()).split())


def without_phase(activity: str) -> str:
    """An activity without its step's "getting started:" or "wrapping up:"."""
    return _PHASE.sub("", activity)


def near(a: str, b: str) -> bool:
    """Whether two normalised texts are the same line, or nearly."""
    if a == b:
        return True
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.real_quick_ratio() >= NEAR and matcher.quick_ratio() >= NEAR and matcher.ratio() >= NEAR


def _seen(text: str, exact: set[str], recent: Iterable[str]) -> bool:
    return text in exact or any(near(text, other) for other in recent)


def repeated_lines(lines: Iterable[tuple[str, str, str]]) -> list[tuple[bool, bool]]:
    """For each ``(speaker, conversation, text)`` in log order: (said before by the speaker or in the
    conversation, said before in the conversation: a loop). An empty line (only punctuation) is neither."""
    said: dict[str, tuple[set[str], deque[str]]] = {}
    talks: dict[str, list[str]] = {}
    flags = []
    for speaker, conversation, text in lines:
        line = normalised(text)
        exact, recent = said.setdefault(speaker, (set(), deque(maxlen=WINDOW)))
        before = talks.setdefault(conversation, [])
        loop = bool(line) and _seen(line, set(), before)
        flags.append((bool(line) and (loop or _seen(line, exact, recent)), loop))
        if line:
            exact.add(line)
            recent.append(line)
            before.append(line)
    return flags


def repeated_activities(actions: Iterable[tuple[str, str]]) -> list[tuple[str, bool]]:
    """For each activity an agent took up, ``(agent, activity)`` rows in log order with the steps of one
    activity (its "getting started:"/"wrapping up:" phases too) counted once: whether it (nearly) repeats
    one of the agent's last ``WINDOW`` activities: (agent, repeated). A varied day reads low; an agent
    going round in circles, high."""
    done: dict[str, deque[str]] = {}
    flags = []
    for agent, activity in actions:
        doing = normalised(without_phase(activity))
        before = done.setdefault(agent, deque(maxlen=WINDOW))
        if before and before[-1] == doing:
            continue  # the next step of the same activity
        flags.append((agent, any(near(doing, other) for other in before)))
        before.append(doing)
    return flags
