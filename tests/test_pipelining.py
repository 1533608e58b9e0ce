"""Pipelined cognition: requests are asked as early as they can be and due when they are needed.

Each test reads a fake run's log, where every ``llm_call`` row says when its
request was ``asked`` and when it was ``due`` (the row's own time).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest

from agentville.agents.llm.timing import CONSOLIDATION_S, THINKING_S
from agentville.agents.talk.conversation import line_seconds
from agentville.sim.core import events
from agentville.sim.generation import Completion, FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.store.eventstore import EventStore

from .conftest import WORLDS
from .test_engine import ThreadedBackend


class Insightful(FakeBackend):
    """The fake backend, with insights that parse (the fake's plain answer for them is "nothing new")."""

    def answer(self, request):
        if request.purpose != "reflection_insights":
            return super().answer(request)
        self.calls += 1
        text = (f" what stands out in insight {self.calls} is the cafe (because of 1, 2)\n"
                f"2. people keep talking in insight {self.calls} (because of 2)")
        return Completion(text, len(request.prompt.split()), len(text.split()))


@pytest.fixture(scope="module")
def village(tmp_path_factory):
    """The three-person village for 30 hours (plans, conversations, reflections), as a list of events."""
    scenario = load_scenario(WORLDS / "the_ville_3.yaml")
    folder = tmp_path_factory.mktemp("pipelining")
    with EventStore(folder / "v.db") as store:
        sim = assemble(scenario, store=store, backend=Insightful(), seed=3, cognition={"importance": "model"})
        summary = sim.run(scenario.start + dt.timedelta(hours=30))
        return list(store.iter_events(summary.run_id))


def calls(log, purpose):
    return [e for e in log if e.kind == events.LLM_CALL and e.data["purpose"] == purpose]


def test_every_answer_is_logged_when_it_is_due(village):
    assert all(e.sim_time == e.data["due"] >= e.data["asked"] for e in village if e.kind == events.LLM_CALL)


def test_noticing_does_not_stop_the_agent(village):
    ratings = [e for e in calls(village, "importance") if e.data["asked"] > 0]  # not the seed memories
    assert ratings and all(e.data["due"] - e.data["asked"] == CONSOLIDATION_S for e in ratings)
    # While its memories were being rated, the agent went on: it acted, decided or talked in between.
    went_on = [r for r in ratings if any(
        e.agent == r.agent and r.data["asked"] < e.sim_time < r.data["due"]
        and e.kind in (events.ACTION, events.REACTION, events.UTTERANCE, events.MOVE) for e in village)]
    assert len(went_on) > len(ratings) / 10
    # ... and what it noticed on starting a step enters its stream (and the log) a consolidation delay later.
    started = {(e.agent, e.sim_time) for e in village if e.kind == events.ACTION}
    observed = [e for e in village if e.kind == events.MEMORY and e.data["kind"] == "event" and e.sim_time > 0]
    assert observed and all((e.agent, e.sim_time - CONSOLIDATION_S) in started for e in observed)


def test_the_reply_is_due_when_the_line_before_it_has_been_said(village):
    lines = defaultdict(list)
    for e in village:
        if e.kind == events.UTTERANCE:
            lines[e.data["conversation"]].append(e)
    asked = {(e.agent, e.data["asked"], e.data["due"]) for e in calls(village, "utterance")}
    pairs = [(a, b) for talk in lines.values() for a, b in zip(talk, talk[1:])]
    assert len(pairs) >= 5
    for said, reply in pairs:
        due = said.sim_time + line_seconds(said.data["text"])
        assert (reply.agent, said.sim_time, round(due, 3)) in asked  # asked as soon as the line was known
        assert reply.sim_time == pytest.approx(due)  # and said as soon as the line before it was over


def test_a_reflection_asks_for_all_its_insights_at_once_and_they_cite_no_sibling(village):
    reflections = [e for e in village if e.kind == events.REFLECTION and e.data["insights"]]
    assert reflections
    memories = {(e.agent, e.data["id"]): e for e in village if e.kind == events.MEMORY}
    for reflection in reflections:
        written = set(reflection.data["insights"])
        for insight in written:
            assert not set(memories[(reflection.agent, insight)].data["evidence"]) & written
        asked = {e.data["asked"] for e in calls(village, "reflection_insights")
                 if e.agent == reflection.agent and reflection.sim_time - 4 * THINKING_S <= e.sim_time
                 <= reflection.sim_time}
        assert len(asked) == 1  # every insight request of this reflection went together


def test_the_next_chunk_is_prepared_before_it_begins(village):
    decompositions = calls(village, "decompose")
    ahead = [e for e in decompositions if e.data["due"] > e.data["asked"] + 60]
    assert len(ahead) > len(decompositions) / 4
    steps = {(e.agent, e.sim_time) for e in village if e.kind == events.PLAN and e.data["level"] == "steps"}
    # Prepared during the step before; its steps are used when the chunk begins (or dropped if plans changed).
    assert sum((e.agent, e.data["due"]) in steps for e in ahead) > len(ahead) / 2


def test_step_seconds_delivers_answers_on_step_boundaries(tiny, tmp_path):
    stepped = tiny.model_copy(update={"generation": tiny.generation.model_copy(update={"step_seconds": 10.0})})
    with EventStore(tmp_path / "s.db") as store:
        summary = assemble(stepped, store=store, backend=FakeBackend()).run(stepped.start + dt.timedelta(hours=3))
        answers = list(store.iter_events(summary.run_id, kinds=[events.LLM_CALL]))
    in_run = [e for e in answers if e.data["purpose"] != "importance_calibration"]  # asked before the clock runs
    assert in_run and all(e.sim_time % 10 == 0 and e.sim_time > e.data["asked"] for e in in_run)


def test_interview_all_asks_every_agent_at_once(tmp_path):
    scenario = load_scenario(WORLDS / "the_ville_3.yaml")
    class Interviews(ThreadedBackend):
        """Counts the interview requests submitted before the first of them is answered."""

        asked_before_any_answer = 0
        answered = False

        def submit(self, request):
            future = super().submit(request)
            if request.purpose == "interview":
                self.asked_before_any_answer += not self.answered
                future.add_done_callback(lambda _: setattr(self, "answered", True))
            return future

    backend = Interviews(jitter_s=0.05)
    with EventStore(tmp_path / "i.db") as store:
        sim = assemble(scenario, store=store, backend=backend)
        sim.start()
        sim.advance(scenario.start + dt.timedelta(hours=2))
        answers = sim.interview_all("What are you doing today?")
        sim.finish()
    backend.close()
    assert set(answers) == set(sim.agents) and backend.asked_before_any_answer == len(sim.agents)


def test_random_latencies_give_the_log_of_the_instant_backend(tmp_path):
    scenario = load_scenario(WORLDS / "smallville.yaml")
    logs = []
    for name, backend in (("threaded", ThreadedBackend(jitter_s=0.002, workers=16)), ("instant", FakeBackend())):
        with EventStore(tmp_path / f"{name}.db") as store:
            summary = assemble(scenario, store=store, backend=backend).run(scenario.start + dt.timedelta(hours=5))
            logs.append([(e.seq, e.sim_time, e.kind, e.agent, e.data) for e in store.iter_events(summary.run_id)])
    assert logs[0] == logs[1] and len(logs[0]) > 1000


def test_tomorrow_is_decided_while_falling_asleep_and_planned_before_waking(village):
    from agentville.agents.llm.timing import FALLING_ASLEEP_S

    asleep = {(e.agent, e.sim_time) for e in village if e.kind == events.ACTION and e.data["activity"] == "sleeping"}
    wakes = [e for e in calls(village, "wake_up") if e.data["asked"] > 0]
    assert wakes, "nobody went to bed in 30 hours"
    for wake in wakes:
        assert (wake.agent, wake.data["asked"]) in asleep and wake.sim_time == wake.data["asked"] + FALLING_ASLEEP_S
    decided = {(e.agent, e.sim_time) for e in wakes}
    plans = {(e.agent, e.sim_time) for e in village if e.kind == events.PLAN and e.data["level"] == "day"}
    tonight = [e for e in calls(village, "day_plan") if (e.agent, e.data["asked"]) in decided]
    assert len(tonight) == len(wakes)  # each next day's plan was asked as soon as the wake-up was known
    assert all(e.data["due"] > e.data["asked"] + 3600 and (e.agent, e.sim_time) in plans for e in tonight)
