"""The memory stream: everything an agent has observed, said, planned and concluded.

Nodes are kept in plain Python objects for reading, and their scoring inputs
(embedding, importance, last access) in numpy arrays so that retrieval over
thousands of memories is a few vector operations, not a Python loop.

Retrieval follows the reference: score = w_recency * recency + w_importance *
importance + w_relevance * relevance, each min-max normalised over the
candidates, with recency = decay ** (game hours since last access) and
relevance the cosine similarity to the query. Retrieved memories count as
accessed, which keeps them fresh.

Embeddings are kept as whole numbers (``quantized``): their dot products are
then exact, so a ranking cannot depend on which BLAS kernel the CPU picks
(float products of the same rows differed in the last bit from one machine
to the next, which turned exact ties into different orders and different logs).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from agentville.agents.llm.templates import render

if TYPE_CHECKING:
    import simpy

    from agentville.sim.context import SubProcess
    from agentville.sim.context.protocols import LanguageModel

KINDS = ("event", "thought", "chat", "plan")
IMPORTANCE_OPTIONS = tuple(str(i) for i in range(1, 11))
RECENCY_DECAY = 0.995  # recency factor per game hour since last access
QUANTUM = 2.0 ** 20  # an embedding's largest component, as a whole number (see ``quantized``)


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
    decay: float = RECENCY_DECAY
    nodes: list[MemoryNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Growable buffers (capacity doubles), so adding stays O(1) amortised.
        self._vectors = np.zeros((0, 0), dtype=np.float64)  # whole numbers (``quantized``)
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
        vector = quantized(embedding)
        if self.nodes and vector.shape[0] != self._vectors.shape[1]:
            raise ValueError(f"embedding has {vector.shape[0]} dimensions; this stream holds {self._vectors.shape[1]}")
        index = len(self.nodes)
        if index == len(self._importance):
            self._reserve(max(16, 2 * index), vector.shape[0])
        node = MemoryNode(index, kind, text, now, now, int(min(10, max(1, importance))), depth, tuple(evidence),
                          subject, source)
        self.nodes.append(node)
        self._vectors[index] = vector
        self._norms[index] = exact_norm(vector)
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
        recency = recency_scores(self._last_access[:n], now, self.decay)
        query = quantized(query)
        norms = self._norms[:n] * (exact_norm(query) or 1.0)
        relevance = (self._vectors[:n] @ query) / np.where(norms > 0, norms, 1.0)  # cosine
        w = self.weights
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


def quantized(vector: np.ndarray) -> np.ndarray:
    """The vector's direction as whole numbers (float64), the largest component +-QUANTUM.

    Products of two such vectors are sums of integers below 2**53, exact in
    any order: the same on every CPU. The rounding (about a millionth of the
    largest component) is far below what tells memories apart.
    """
    values = np.asarray(vector, dtype=np.float64).ravel()
    top = float(np.max(np.abs(values))) if values.size else 0.0
    return np.rint(values * (QUANTUM / top)) if top > 0 else np.zeros(values.shape)


def exact_norm(vector: np.ndarray) -> float:
    """Length of a ``quantized`` vector: its squared length is an exact integer, so the root is the same anywhere."""
    return float(np.sqrt(np.dot(vector, vector)))


def recency_scores(last_access: np.ndarray, now: float, decay: float = RECENCY_DECAY) -> np.ndarray:
    """``decay ** game hours since last access`` (the dashboard shows the same score)."""
    return decay ** ((now - np.asarray(last_access, dtype=np.float64)) / 3600.0)


def minmax(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Scale the (masked) values to [0, 1]; all-equal values become 0.5 (they do not discriminate)."""
    values = np.asarray(values)
    if mask is None:
        mask = np.ones(values.shape, dtype=bool)
    if not mask.any():
        return np.zeros_like(values, dtype=np.float64)
    chosen = values[mask]
    low, high = float(chosen.min()), float(chosen.max())
    if high - low < 1e-12:
        return np.full(values.shape, 0.5)
    return (values - low) / (high - low)


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
