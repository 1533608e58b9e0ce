"""Read-only replays at the edges of a run: answers asked for but never needed."""

from __future__ import annotations

from agentville.sim.core import events
from agentville.sim.generation import FakeBackend
from agentville.sim.lab.experiment import Experiment
from agentville.sim.store.eventstore import EventStore
from tests.conftest import WORLDS


def test_a_run_that_ended_with_answers_in_flight_replays_read_only(tmp_path):
    """A request asked before the end but due after it was never delivered, so never cached;
    the replay asks it too and must not stop on it (it stopped with a cache miss before)."""
    ended_in_flight = 0
    for minutes in range(60, 181, 20):
        db, backend = tmp_path / f"{minutes}.db", FakeBackend()
        with Experiment(WORLDS / "the_ville_3.yaml", db=db, backend=backend) as first:
            first.run(f"+{minutes}m")
            original = first.run_id
        with Experiment(WORLDS / "the_ville_3.yaml", db=db, llm="fake", cache="read-only") as replay:
            replay.run(f"+{minutes}m")
            again = replay.run_id
        with EventStore(db, read_only=True) as store:
            logged = [(e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(original)]
            assert [(e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(again)] == logged
        ended_in_flight += backend.calls > sum(kind == events.LLM_CALL for _, kind, _, _ in logged)
    assert ended_in_flight  # the case was met at least once
