"""How alike different residents' days were: distinctiveness, read from the activities they took up.

A resident's day is the set of telling words of the activities it took up
(``questions.key_words``: no short or common words, no residents' or places'
names, so "working at Hobbs Cafe" is {working}). Two days are as alike as the
Jaccard similarity of their sets; distinctiveness is one less the mean
similarity over pairs of residents who did something. A town of up to
``MAX_PAIRS`` pairs compares them all; a larger one a sample of ``MAX_PAIRS``
distinct pairs drawn with a generator seeded from sha256 of the run's seed
(never Python's ``hash``), so the cost stays flat as the town grows and the
same log gives the same figure.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable

import pandas as pd

from agentville.sim.core.events import ACTION

from .naming import name_words
from .questions import key_words

MAX_PAIRS = 200


def day_words(events: pd.DataFrame, people: list[str], names: Iterable[str]) -> dict[str, frozenset[str]]:
    """Per resident: the telling words of every activity it took up (names of ``names`` left out)."""
    leave_out = name_words(names)
    found: dict[str, set[str]] = {agent: set() for agent in people}
    seen: dict[str, tuple[str, ...]] = {}
    done = events[events["kind"] == ACTION]
    for agent, data in zip(done["agent"], done["data"]):
        if agent in found:
            activity = data["activity"]
            if activity not in seen:
                seen[activity] = key_words(activity, leave_out)
            found[agent].update(seen[activity])
    return {agent: frozenset(w) for agent, w in found.items()}


def pairs(count: int, seed: int) -> list[tuple[int, int]]:
    """All pairs (i < j) of ``count`` items, or ``MAX_PAIRS`` of them drawn with a generator seeded by ``seed``."""
    total = count * (count - 1) // 2
    if total <= MAX_PAIRS:
        return [(i, j) for i in range(count) for j in range(i + 1, count)]
    rng = random.Random(int(hashlib.sha256(f"distinctiveness/{seed}".encode()).hexdigest()[:16], 16))
    return [_pair(k, count) for k in sorted(rng.sample(range(total), MAX_PAIRS))]


def _pair(k: int, count: int) -> tuple[int, int]:
    """The ``k``-th pair (i < j) in the order (0, 1), (0, 2), ..., (1, 2), ..."""
    i = 0
    while k >= count - 1 - i:
        k -= count - 1 - i
        i += 1
    return i, i + 1 + k


def distinctiveness(days: dict[str, frozenset[str]], seed: int) -> float:
    """One less the mean Jaccard similarity of residents' days (those with no words left out); NaN under two."""
    sets = [days[agent] for agent in sorted(days) if days[agent]]
    chosen = pairs(len(sets), seed)
    if not chosen:
        return float("nan")
    return 1.0 - sum(len(sets[i] & sets[j]) / len(sets[i] | sets[j]) for i, j in chosen) / len(chosen)
