"""Which replica answers a request: the one whose prefix cache already holds its agent's prompts.

OpenAI-compatible servers (vLLM, SGLang, llama.cpp) keep the states of prompts they have read and
reuse the longest cached prefix. An agent's prompts open alike (instructions, then its persona),
so sending one agent's requests to one replica lets that replica's cache serve them; round-robin
makes every replica cache every agent, and each cache holds fewer of them.

A request ranks the replicas by rendezvous (highest-random-weight) hashing of its agent's name, or
of its prompt's opening (the shared instructions) when no agent asks. It uses sha256, not
``hash()`` (salted per process), so the ranking is the same in every run, and a replica dropped at
the start moves only the agents it had. Load guards it: a request goes to the first replica in
its ranking with no more than ``least + max(2, in_flight // 4)`` attempts in flight (``least``: the
least loaded replica's; ``in_flight``: all of them together), so a hash that favours one replica,
or a busy agent, cannot pile work on it while another idles. Retries walk the rest of the ranking.
The answer never depends on the replica (same model, same seed); only the logged ``replica`` does.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

ROUTINGS = ("agent", "round-robin")
OPENING_CHARS = 300  # of a prompt without an agent: its shared instructions, not what it asks
SLACK = 2  # attempts in flight a preferred replica may have over the least loaded one, at least
SLACK_SHARE = 4  # ... or a quarter of all attempts in flight, when more


def route_key(agent: str | None, prompt: str) -> str:
    """What a request is routed by: its agent, else its prompt's opening."""
    return f"agent\x1f{agent}" if agent is not None else f"prompt\x1f{prompt[:OPENING_CHARS]}"


def ranking(key: str, urls: Sequence[str]) -> list[int]:
    """The replicas' indices, best first, for ``key``: each replica's weight depends only on it and the key."""
    def weight(index: int) -> bytes:
        return hashlib.sha256(f"{urls[index]}\x1f{key}".encode()).digest()

    return sorted(range(len(urls)), key=weight, reverse=True)


class Router:
    """Orders the replicas for each request (``agent`` routing or ``round-robin``), counting attempts in flight."""

    def __init__(self, routing: str = "agent"):
        if routing not in ROUTINGS:
            raise ValueError(f"routing must be one of {', '.join(ROUTINGS)}, not {routing!r}")
        self.routing = routing
        self._lock = threading.Lock()
        self._turn = itertools.count()
        self._in_flight: collections.Counter[str] = collections.Counter()

    def order(self, urls: Sequence[str], agent: str | None, prompt: str) -> list[int]:
        """The replicas' indices in the order to try them: the first answers, retries go on down the list."""
        if self.routing == "round-robin":
            with self._lock:
                first = next(self._turn) % len(urls)
            return [(first + step) % len(urls) for step in range(len(urls))]
        ranked = ranking(route_key(agent, prompt), urls)
        with self._lock:
            loads = [self._in_flight[urls[index]] for index in ranked]
        bound = min(loads) + max(SLACK, sum(loads) // SLACK_SHARE)
        chosen = next(place for place, load in enumerate(loads) if load <= bound)  # the least loaded qualifies
        return [ranked[chosen], *ranked[:chosen], *ranked[chosen + 1:]]

    def in_flight(self, url: str) -> int:
        with self._lock:
            return self._in_flight[url]

    @contextmanager
    def attempt(self, url: str) -> Iterator[None]:
        """Count an attempt at ``url`` as in flight while it lasts."""
        with self._lock:
            self._in_flight[url] += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight[url] -= 1
