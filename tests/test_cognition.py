"""Reflection, inner voice, interviews and the ablation switches."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys

import numpy as np
import pytest

from agentville.agents.memory.reflection import parse_insights, parse_questions
from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT
from tests.scripted import ScriptedBackend


def simulate(tiny, tmp_path, hours=10, backend=None, name="run.db", during=None, **cognition):
    with EventStore(tmp_path / name) as store:
        sim = assemble(tiny, store=store, backend=backend or FakeBackend(),
                         cognition=tiny.cognition.model_copy(update=cognition))
        if during:
            sim.env.process(during(sim))
        summary = sim.run(tiny.start + dt.timedelta(hours=hours))
        return store.events(summary.run_id), sim


def test_reflection_starts_only_once_new_memories_reach_the_threshold(tiny, tmp_path):
    sim = assemble(tiny, store=EventStore(tmp_path / "x.db"), backend=FakeBackend(),
                     cognition=tiny.cognition.model_copy(update={"reflection_threshold": 20}))
    ann = sim.agents["Ann"]
    for importance in (6, 6, 7):
        assert not ann.wants_to_reflect()
        ann.memory.add("event", f"something worth {importance}", now=0, importance=importance,
                       embedding=np.ones(4))
    assert ann.memory.importance_since(-1) == 19 and not ann.wants_to_reflect()
    ann.memory.add("event", "one more", now=0, importance=1, embedding=np.ones(4))
    assert ann.wants_to_reflect()


def test_reflections_write_insights_that_cite_evidence(tiny, tmp_path):
    numbers = itertools.count(1)  # the model's own conclusions, a new one each time (the plain answer draws none)
    insights = {"reflection_insights": lambda _: f" Conclusion number {next(numbers)} about the day (because of 1, 2)"}
    events, _ = simulate(tiny, tmp_path, backend=ScriptedBackend({"importance": "9", "location_place": "Cafe",
                                                                  **insights}),
                         reflection_threshold=40)
    reflections = events[events.kind == "reflection"]
    assert len(reflections) >= 2
    memories = events[events.kind == "memory"]
    for agent, mine in memories.groupby("agent"):
        by_id = {d["id"]: d for d in mine.data}
        mark = -1
        for reflection in reflections[reflections.agent == agent].data:
            insights = reflection["insights"]
            assert insights and len(reflection["questions"]) == 3
            new = sum(d["importance"] for i, d in by_id.items() if mark < i < min(insights))
            assert new >= 40  # the threshold was passed before reflecting
            for insight in insights:
                node = by_id[insight]
                assert node["kind"] == "thought" and node["evidence"]
                assert all(e < insight for e in node["evidence"])
                assert node["depth"] == 1 + max(by_id[e]["depth"] for e in node["evidence"])
            mark = max(insights)


def test_insights_and_questions_parse_and_bad_citations_are_dropped():
    text = ("1. Ann loves the cafe (because of 1, 3)\n2. no citation here\n3. Ann trusts Bob (because of 9)\n"
            "4. Ann is busy (based on statements 2 and 4).\n\nmore")
    assert parse_insights(text, statements=4) == [("Ann loves the cafe", [1, 3]), ("Ann is busy", [2, 4])]
    assert parse_questions("1. What does Ann want?\n2. Who is Bob to Ann?\n3. Why?\n4. Extra question here?") == [
        "What does Ann want?", "Who is Bob to Ann?"]


def test_no_reflection_switch_turns_reflection_off(tiny, tmp_path):
    events, _ = simulate(tiny, tmp_path, backend=ScriptedBackend({"importance": "9", "location_place": "Cafe"}),
                         reflection_threshold=20,
                         reflection=False)
    assert not (events.kind == "reflection").any() and (events.kind == "memory").sum() > 10


def test_interview_answers_from_memory_and_changes_nothing(tiny, tmp_path):
    answers = []

    def ask_midway(sim):
        yield sim.env.timeout(5 * 3600)
        ann = sim.agents["Ann"]
        before = (len(ann.memory), ann.memory._last_access.copy(), dict(sim.llm.calls_by_agent),
                  dict(ann._ratings), ann.planning.plan, ann.activity, ann.state)
        answers.append(sim.interview("Ann", "What do you think of Bob?"))
        after = (len(ann.memory), ann.memory._last_access.copy(), dict(sim.llm.calls_by_agent),
                 dict(ann._ratings), ann.planning.plan, ann.activity, ann.state)
        assert before[0] == after[0] and np.array_equal(before[1], after[1])
        assert before[2:] == after[2:]

    plain, _ = simulate(tiny, tmp_path, name="plain.db")
    asked, _ = simulate(tiny, tmp_path, name="asked.db", during=ask_midway)
    assert answers and answers[0]
    interview = asked[asked.kind == "interview"]
    assert len(interview) == 1 and interview.data.iloc[0]["question"] == "What do you think of Bob?"
    rest = asked[(asked.kind != "interview")
                 & ~((asked.kind == "llm_call") & asked.data.map(lambda d: d.get("purpose") == "interview"))]
    assert len(rest) == len(plain)
    # identical apart from the interview itself (and the final event count)
    assert list(rest.data)[:-1] == list(plain.data)[:-1] and list(rest.kind) == list(plain.kind)


def test_a_whisper_becomes_a_thought_and_revises_the_day(tiny, tmp_path):
    events, _ = simulate(tiny, tmp_path, hours=4)
    thought = events[(events.kind == "memory") & (events.agent == "Bob")
                     & events.data.map(lambda d: d.get("kind") == "thought")]
    assert "I should ask Ann about the party." in set(thought.data.map(lambda d: d["text"]))
    revisions = events[(events.kind == "plan") & (events.agent == "Bob")
                       & events.data.map(lambda d: d.get("level") == "revision")]
    assert any("ask Ann about the party" in d["reason"] for d in revisions.data)


def test_no_planning_agents_decide_as_they_go(tiny, tmp_path):
    events, _ = simulate(tiny, tmp_path, hours=6, planning=False)
    assert not (events.kind == "plan").any()
    purposes = events[events.kind == "llm_call"].data.map(lambda d: d["purpose"])
    assert (purposes == "next_action").sum() >= 2 * 6 * 3  # every quarter hour, for both
    assert set(events[events.kind == "action"].agent) == {"Ann", "Bob"}


def test_no_retrieval_recalls_the_most_recent_memories(tiny, tmp_path):
    _, sim = simulate(tiny, tmp_path, hours=3, retrieval=False)
    ann = sim.agents["Ann"]
    assert [m.id for m in ann.recall("anything at all", k=3)] == [m.id for m in ann.memory.nodes[-3:][::-1]]


def test_ablation_switches_on_the_command_line_are_recorded(tiny_path, tmp_path):
    db = tmp_path / "cli.db"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(tiny_path), "--llm", "fake", "--until", "+2h",
                           "--db", str(db), "--no-progress", "--no-reflection", "--no-retrieval"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    cognition = EventStore(db).run()["settings"]["cognition"]
    assert cognition["reflection"] is False and cognition["retrieval"] is False and cognition["planning"] is True


@pytest.mark.parametrize("flag", ["--no-planning", "--no-reflection", "--no-retrieval"])
def test_ablation_flags_are_documented(flag):
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert flag in done.stdout


@pytest.mark.slow
@pytest.mark.timeout(900)  # as long as the run it starts may take (the calibration adds ten choices on a loaded machine)
def test_embedded_model_plans_a_real_morning(tmp_path):
    """The bundled 270M model writes day plans and schedules that parse (30 simulated minutes)."""
    db = tmp_path / "real.db"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(ROOT / "worlds" / "the_ville_3.yaml"),
                           "--llm", "embedded", "--until", "+30m", "--db", str(db), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr
    events = EventStore(db).events()
    calls = events[events.kind == "llm_call"]
    plans = calls[calls.data.map(lambda d: d["purpose"] in ("day_plan", "schedule"))]
    assert len(plans) >= 4 and not plans.data.map(lambda d: d["fallback"]).any()
    days = events[(events.kind == "plan") & events.data.map(lambda d: d.get("level") == "day")]
    assert set(days.agent) == {"Isabella Rodriguez", "Maria Lopez", "Klaus Mueller"}
    # at least one day plan is the model's own (not every answer fell back to the routine)
    fallbacks = events[events.kind == "fallback"].data.map(lambda d: d["purpose"])
    assert (fallbacks == "day_plan").sum() < 3


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_embedded_model_is_interviewed_at_the_end_of_a_run(tmp_path):
    """``run --evaluate`` with the bundled model: its residents answer every question (re-lived from the
    cache, asked through the real model), the grades and the summary's two believability lines follow."""
    from agentville.sim.store import evaluations

    db = tmp_path / "asked.db"
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(ROOT / "worlds" / "the_ville_3.yaml"),
                           "--llm", "embedded", "--until", "+10m", "--db", str(db), "--no-progress", "--evaluate"],
                          capture_output=True, text=True, cwd=ROOT, timeout=880)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("  believable rubric: "))
    assert lines[at + 1].strip().startswith("interviews: self-knowledge ")
    with EventStore(db, read_only=True) as store:
        kept = evaluations.latest(store.db, store.run()["run_id"])
    assert kept is not None and kept["model"].startswith("embedded:") and len(kept["answers"]) >= 15
    assert all(answer["answer"].strip() for answer in kept["answers"])
    assert {answer["grade"] for answer in kept["answers"]} <= {"right", "partly", "wrong", "does-not-know"}
