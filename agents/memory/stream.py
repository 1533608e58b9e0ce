"""The memory stream: everything an agent has observed, said, planned and concluded.

Nodes are kept in plain Python objects for reading, and their scoring inputs
(embedding, importance, last access) in numpy arrays so that retrieval over
thousands of memories is a few vector operations, not a Python loop.

Retrieval follows the reference: score = w_recency * recency + w_importance *
importance + w_relevance * relevance, each min-max normalised over the
candidates, with recency = decay ** (game hours since last access) and
relevance the cosine similarity to the query. Retrieved memories count as
accessed, which keeps them fresh.

The scoring itself (recency, min-max, embeddings as whole numbers whose dot
products are exact on every CPU) lives in ``sim.core.retrieval``, where the
dashboard reads the same formulas.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agentville.agents.llm.templates import render
from agentville.sim.core import retrieval

if TYPE_CHECKING:
    import simpy

    from agentville.sim.context import SubProcess
    from agentville.sim.context.protocols import LanguageModel

KINDS = ("event", "thought", "chat", "plan")
IMPORTANCE_OPTIONS = tuple(str(i) for i in range(1, 11))


@dataclass
class MemoryNode:
    id: int
    kind: str
    text: str
    created: float  # simulated seconds
    last_access: float
    importance: int
    depth: int = 0
    evidence: tuple[int, ...] = ()
    subject: str | None = None  # who or what it is about, when known (perception, chat)
    source: str | None = None  # the conversation it was learned in (who said it: ``subject``)


@dataclass(frozen=True)
class Impression:
    """Something to remember, before it is rated and stored (``GenerativeAgent.remember_all``)."""

    kind: str
    text: str
    subject: str | None = None
    evidence: tuple[int, ...] = ()
    depth: int = 0
    source: str | None = None


@dataclass
class RetrievalWeights:
    recency: float = 1.0
    importance: float = 1.0
    relevance: float = 1.0


@dataclass
class MemoryStream:
    """One agent's memories, newest last."""

    weights: RetrievalWeights = field(default_factory=RetrievalWeights)
    decay: float = retrieval.RECENCY_DECAY
    nodes: list[MemoryNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Growable buffers (capacity doubles), so adding stays O(1) amortised.
        self._vectors = np.zeros((0, 0), dtype=np.float64)  # whole numbers (``retrieval.quantized``)
        self._norms = np.zeros(0, dtype=np.float64)
        self._importance = np.zeros(0, dtype=np.float64)
        self._last_access = np.zeros(0, dtype=np.float64)
        self._kinds = np.zeros(0, dtype=np.int8)

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self) -> Iterator[MemoryNode]:
        return iter(self.nodes)

    def add(self, kind: str, text: str, *, now: float, importance: int, embedding: np.ndarray,
            evidence: tuple[int, ...] = (), depth: int = 0, subject: str | None = None,
            source: str | None = None) -> MemoryNode:
        if kind not in KINDS:
            raise ValueError(f"unknown memory kind {kind!r} (one of {KINDS})")
        vector = retrieval.quantized(embedding)
        if self.nodes and vector.shape[0] != self._vectors.shape[1]:
            raise ValueError(f"embedding has {vector.shape[0]} dimensions; this stream holds {self._vectors.shape[1]}")
        index = len(self.nodes)
        if index == len(self._importance):
            self._reserve(max(16, 2 * index), vector.shape[0])
        node = MemoryNode(index, kind, text, now, now, int(min(10, max(1, importance))), depth, tuple(evidence),
                          subject, source)
        self.nodes.append(node)
        self._vectors[index] = vector
        self._norms[index] = retrieval.exact_norm(vector)
        self._importance[index] = node.importance
        self._last_access[index] = now
        self._kinds[index] = KINDS.index(kind)
        return node

    def _reserve(self, capacity: int, dims: int) -> None:
        n = len(self.nodes)
        vectors = np.zeros((capacity, dims), dtype=np.float64)
        if n:
            vectors[:n] = self._vectors[:n]
        self._vectors = vectors
        for name in ("_norms", "_importance", "_last_access", "_kinds"):
            old = getattr(self, name)
            grown = np.zeros(capacity, dtype=old.dtype)
            grown[:n] = old[:n]
            setattr(self, name, grown)

    def recent(self, n: int, kinds: tuple[str, ...] | None = None) -> list[MemoryNode]:
        """The ``n`` newest memories (of the given kinds), oldest first."""
        chosen = [m for m in self.nodes if kinds is None or m.kind in kinds]
        return chosen[-n:] if n > 0 else []

    def scores(self, query: np.ndarray, now: float, kinds: tuple[str, ...] | None = None) -> np.ndarray:
        """Retrieval score of every memory (NaN for those of other kinds)."""
        n = len(self.nodes)
        if not n:
            return np.zeros(0)
        mask = np.ones(n, dtype=bool)
        if kinds is not None:
            mask = np.isin(self._kinds[:n], [KINDS.index(k) for k in kinds])
        recency = retrieval.recency_scores(self._last_access[:n], now, self.decay)
        query = retrieval.quantized(query)
        norms = self._norms[:n] * (retrieval.exact_norm(query) or 1.0)
        relevance = (self._vectors[:n] @ query) / np.where(norms > 0, norms, 1.0)  # cosine
        w, minmax = self.weights, retrieval.minmax
        total = (w.recency * minmax(recency, mask) + w.importance * minmax(self._importance[:n], mask)
                 + w.relevance * minmax(relevance, mask))
        return np.where(mask, total, np.nan)

    def retrieve(self, query: np.ndarray, *, now: float, k: int = 10, kinds: tuple[str, ...] | None = None,
                 touch: bool = True) -> list[MemoryNode]:
        """The ``k`` best memories for ``query``, best first; marks them accessed unless ``touch`` is False."""
        scores = self.scores(query, now, kinds)
        valid = np.flatnonzero(~np.isnan(scores))
        if valid.size == 0 or k <= 0:
            return []
        top = valid[np.argsort(-scores[valid], kind="stable")[:k]]
        if touch:
            self._last_access[top] = now
            for index in top:
                self.nodes[index].last_access = now
        return [self.nodes[i] for i in top]

    def importance_since(self, memory_id: int) -> int:
        """Summed importance of memories newer than ``memory_id`` (the reflection trigger)."""
        return int(self._importance[memory_id + 1: len(self.nodes)].sum())


def importance_prompt(person: str, memory: str) -> str:
    """The rating prompt, through the one template loader every backend's prompts go through.

    It ends at "Rating:" with no newline: a trailing newline let a small model
    over HTTP rate nearly everything 10 while the same model in-process said 1.
    """
    return render("importance", person=person, memory=memory)


def ask_importance(llm: LanguageModel, agent: str, person: str, memory: str,
                   due: float | None = None) -> simpy.Event:
    """The model's 1-10 rating of a memory, as an event whose value is the option ("7"); due at ``due``."""
    return llm.choice(importance_prompt(person, memory), IMPORTANCE_OPTIONS, purpose="importance", agent=agent,
                      default="3", due=due)


def rate_importance(llm: LanguageModel, agent: str, person: str, memory: str) -> SubProcess[int]:
    """A simpy sub-process: the model rates a memory 1-10 (a choice, so it always parses)."""
    answer = yield ask_importance(llm, agent, person, memory)
    return int(answer)
