"""The memory stream: the retrieval formula, pinned with hand-computed numbers."""

from __future__ import annotations

import numpy as np
import pytest
import simpy

from agentville.agents.memory.stream import MemoryStream, RetrievalWeights, importance_prompt, rate_importance
from agentville.sim.generation import FakeBackend, GenerationService

HOUR = 3600.0


def three_memories(weights: RetrievalWeights | None = None) -> MemoryStream:
    stream = MemoryStream(weights=weights or RetrievalWeights())
    stream.add("event", "the cafe opened", now=0.0, importance=2, embedding=[1.0, 0.0])
    stream.add("chat", "talked with Maria", now=10 * HOUR, importance=8, embedding=[0.0, 1.0])
    stream.add("thought", "the party matters", now=20 * HOUR, importance=5, embedding=[1.0, 1.0])
    return stream


def test_scores_match_the_hand_computed_formula():
    # recency 0.995**20 = 0.904610, 0.995**10 = 0.951110, 1.0 -> min-max 0, 0.487468, 1
    # importance 2, 8, 5 -> 0, 1, 0.5 ; relevance to [1, 0]: 1, 0, 0.707107 -> 1, 0, 0.707107
    scores = three_memories().scores(np.array([1.0, 0.0]), now=20 * HOUR)
    assert scores == pytest.approx([1.0, 1.487468, 2.207107], abs=1e-5)
    weighted = three_memories(RetrievalWeights(relevance=3.0)).scores(np.array([1.0, 0.0]), now=20 * HOUR)
    assert weighted == pytest.approx([3.0, 1.487468, 3.621320], abs=1e-5)


def test_retrieve_orders_by_score_and_refreshes_last_access():
    stream = three_memories()
    best = stream.retrieve(np.array([1.0, 0.0]), now=20 * HOUR, k=2)
    assert [m.id for m in best] == [2, 1]
    assert best[1].last_access == 20 * HOUR and stream.nodes[0].last_access == 0.0
    # m1 was touched at 20 h, so at 30 h its recency equals m2's and beats m0's
    scores = stream.scores(np.array([0.0, 1.0]), now=30 * HOUR)
    assert scores[1] > scores[0]


def test_kind_filter_and_untouched_retrieval():
    stream = three_memories()
    only_events = stream.retrieve(np.array([0.0, 1.0]), now=20 * HOUR, kinds=("event",), touch=False)
    assert [m.id for m in only_events] == [0] and stream.nodes[0].last_access == 0.0
    assert np.isnan(stream.scores(np.array([0.0, 1.0]), now=20 * HOUR, kinds=("chat",))[0])


def test_equal_values_do_not_discriminate():
    stream = MemoryStream()
    for i in range(3):
        stream.add("event", f"m{i}", now=0.0, importance=4, embedding=[1.0, 0.0])
    assert stream.scores(np.array([1.0, 0.0]), now=0.0) == pytest.approx([1.5, 1.5, 1.5])


def test_many_memories_and_reflection_trigger():
    stream = MemoryStream(weights=RetrievalWeights(recency=0.0, importance=0.0))  # relevance alone
    rng = np.random.default_rng(0)
    target = rng.normal(size=32)
    for i in range(2000):
        vector = target if i == 1234 else rng.normal(size=32)
        stream.add("event", f"m{i}", now=i * 60.0, importance=1 + i % 10, embedding=vector)
    assert len(stream) == 2000
    assert stream.retrieve(target, now=2000 * 60.0, k=1, touch=False)[0].id == 1234
    assert stream.importance_since(1994) == sum(1 + i % 10 for i in range(1995, 2000))
    assert [m.id for m in stream.recent(3)] == [1997, 1998, 1999]
    with pytest.raises(ValueError, match="dimensions"):
        stream.add("event", "wrong", now=0.0, importance=1, embedding=[1.0])
    with pytest.raises(ValueError, match="unknown memory kind"):
        stream.add("dream", "x", now=0.0, importance=1, embedding=target)


def test_importance_is_a_choice_rated_one_to_ten():
    env = simpy.Environment()
    llm = GenerationService(FakeBackend(), env, run_seed=1)
    ratings = []

    def rate(text):
        rating = yield from rate_importance(llm, "Ann", "Ann, a cheerful cafe owner", text)
        ratings.append(rating)

    for text in ("brushed teeth", "got engaged", "bought bread"):
        env.process(rate(text))
    env.run()
    assert len(ratings) == 3 and all(1 <= r <= 10 for r in ratings)
    prompt = importance_prompt("Ann, a cheerful cafe owner", "got engaged")
    assert prompt.rstrip().endswith("Memory: got engaged\nRating:") and "Ann" not in prompt.split("Person: Ann")[0]
