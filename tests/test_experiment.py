"""The experiment API, metrics and the Valentine's Day study script."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys

import pandas as pd
import pytest

from agentville.dashboard import stores, town
from agentville.sim.analysis.questions import CATEGORIES
from agentville.sim.generation import FakeBackend
from agentville.sim.lab import metrics
from agentville.sim.lab.evaluation import evaluate_run
from agentville.sim.lab.experiment import Experiment
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, WORLDS


def test_the_readme_example_runs(tmp_path, monkeypatch):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Experiments from Python", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) <= 20
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    (tmp_path / "worlds").symlink_to(WORLDS)
    exec(compile(code, "README example", "exec"), {})
    store = EventStore(tmp_path / "runs" / "example.db")
    assert store.run()["status"] == "finished"


def test_running_in_stages_logs_what_one_run_would(tiny, tmp_path):
    with Experiment(tiny, db=tmp_path / "staged.db", backend=FakeBackend()) as exp:
        exp.run("+2h").run("+1h").step(60).run(tiny.start + dt.timedelta(hours=6))
        staged = exp.events()
    with EventStore(tmp_path / "whole.db") as store:
        summary = assemble(tiny, store=store, backend=FakeBackend()).run(tiny.start + dt.timedelta(hours=6))
        whole = store.events(summary.run_id)
    middle = lambda e: [(k, a, d) for k, a, d in zip(e.kind, e.agent, e.data) if k not in ("run_started", "run_finished")]
    assert middle(staged) == middle(whole)


def test_interventions_questions_and_readers(tiny, tmp_path):
    with Experiment(tiny, db=tmp_path / "e.db", backend=FakeBackend()) as exp:
        exp.run("+1h")
        exp.set_object("Cafe: hall: table", "covered in flowers")
        exp.whisper("Ann", "I should bake a cake for Bob.")
        exp.add_agent({"name": "Cleo", "age": 27, "traits": "curious", "home": "Home: kitchen",
                       "memories": ["Cleo just moved to town"]})
        exp.run("+3h")
        answers = exp.interview_all("How is your day?")
        memories = exp.memories()
        events = exp.events()
    assert list(answers["agent"]) == ["Ann", "Bob", "Cleo"] and answers["answer"].str.len().gt(0).all()
    assert {"Cleo just moved to town", "I should bake a cake for Bob."} <= set(memories["text"])
    states = events[events.kind == "object_state"].data
    assert any(d["location"] == "Cafe: hall: table" and d["state"] == "covered in flowers" for d in states)
    assert (events.kind == "agent_added").sum() == 1 and "Cleo" in set(events[events.kind == "action"].agent)
    assert len(events[events.kind == "interview"]) == 3
    assert EventStore(tmp_path / "e.db").run()["status"] == "finished"


def test_knowing_needs_a_memory_that_mentions_the_fact(tiny, tmp_path):
    with Experiment(tiny, db=tmp_path / "k.db", backend=FakeBackend()) as exp:
        exp.run("+30m")
        table = metrics.knows(exp, "Ann runs the cafe", ["cafe"])
        nobody = metrics.knows(exp, "there is a circus in town", ["circus"])
    assert not nobody["knows"].any() and metrics.share(nobody) == 0.0
    assert set(table["agent"]) == {"Ann", "Bob"}


def test_density_attendance_and_counts():
    assert metrics.density({frozenset("ab"), frozenset("bc")}, 4) == pytest.approx(2 * 2 / 12)
    events = pd.DataFrame([
        (1, 0, "placed", "Ann", {"location": "Home: bedroom"}), (2, 0, "placed", "Bob", {"location": "Cafe: hall"}),
        (3, 100, "move", "Ann", {"origin": "Home: bedroom", "target": "Cafe: hall"}),
        (4, 400, "arrived", "Ann", {"location": "Cafe: hall"}), (5, 500, "move", "Bob", {}),
        (6, 600, "arrived", "Bob", {"location": "Park: lawn"}),
        (7, 700, "conversation_end", "Ann", {"partner": "Bob"}),
    ], columns=["seq", "sim_time", "kind", "agent", "data"])
    assert metrics.attendance(events, "Cafe", 450, 900) == ["Ann", "Bob"]
    assert metrics.attendance(events, "Cafe", 550, 900) == ["Ann"]
    assert metrics.attendance(events, "Home", 200, 300) == []
    assert metrics.conversation_counts(events).to_dict() == {"Ann": 1, "Bob": 1}


def test_the_valentines_study_prints_its_comparison_table(tmp_path):
    done = subprocess.run([sys.executable, "experiments/valentines.py", "--llm", "fake", "--db",
                           str(tmp_path / "v.db")], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    for row in ("party known, end", "candidacy known, end", "network density, end", "invited who attended"):
        assert re.search(rf"^{row}\s+\S+\s+\S+", done.stdout, re.M), done.stdout
    assert "model fake" in done.stdout and "52%" in done.stdout
    # both pieces of news travel by word of mouth, and the tree says who told whom
    for fact in ("party", "candidacy"):
        spread = re.search(rf"How the {fact} spread: (\d+) of 25 knew it, (\d+) by conversation", done.stdout)
        assert spread and int(spread.group(2)) >= 3, done.stdout
    assert re.search(r"^Sam Moore \(at start\)\n[├└]── ", done.stdout, re.M), done.stdout
    start = re.search(r"^candidacy known, start\s+\S+\s+(\d+)%", done.stdout, re.M)
    assert start and int(start.group(1)) == 4  # Sam alone: 1 of 25, as in the paper


def test_the_valentines_study_runs_on_another_scenario(tmp_path):
    done = subprocess.run([sys.executable, "experiments/valentines.py", "--llm", "fake", "--scenario",
                           str(WORLDS / "the_ville_3.yaml"), "--db", str(tmp_path / "v.db")],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "the_ville_3, 3 agents" in done.stdout and "How the party spread" in done.stdout


def test_what_a_persona_says_counts_as_known_and_the_judge_can_be_chosen(tiny, tmp_path):
    scenario = tiny.model_copy(update={"personas": [
        tiny.personas[0].model_copy(update={"currently": "Ann is organising a circus in the park."}),
        *tiny.personas[1:]]})
    backend = FakeBackend()
    with Experiment(scenario, db=tmp_path / "j.db", backend=backend) as exp:
        exp.run("+1m")
        calls = backend.calls
        by_keywords = metrics.knows(exp, "there is a circus in town", ["circus"])
        assert backend.calls == calls  # the keyword judge (the fake backend's default) asks nobody
        by_model = metrics.knows(exp, "there is a circus in town", ["circus"], judge="model")
        assert backend.calls == calls + 1  # the model is asked about Ann only: nothing Bob knows mentions it
        with pytest.raises(ValueError, match="unknown judge"):
            metrics.knows(exp, "x", ["x"], judge="oracle")
    assert by_keywords.set_index("agent")["knows"].to_dict() == {"Ann": True, "Bob": False}
    assert not by_model.set_index("agent")["knows"]["Bob"]


def test_time_past_the_end_of_simulated_time_is_a_clear_error(tiny, tmp_path):
    import datetime as dt

    import pytest

    from agentville.sim.core.errors import UserError

    with Experiment(tiny, db=tmp_path / "late.db", backend=FakeBackend()) as exp:
        with pytest.raises(UserError, match="simulated times end at 9999-01-01"):
            exp.step(10**12)
        with pytest.raises(UserError, match="simulated times end at 9999-01-01"):
            exp.run(dt.datetime(9999, 6, 1))
        with pytest.raises(UserError, match="past the year 9999"):
            exp.run("+100000000d")


def test_a_resident_added_during_a_run_is_at_home_in_its_own_room(tmp_path):
    """The town's residents were fixed when the run was built: a newcomer moving into a room named after its
    flatmate was a stranger there, so walking home broke the rule that keeps strangers out of private rooms."""
    room = "Dorm for Oak Hill College: Klaus Mueller's room"
    with Experiment(WORLDS / "the_ville_3.yaml", db=tmp_path / "n.db", backend=FakeBackend()) as exp:
        exp.run("+1h")
        exp.add_agent({"name": "Kai Mueller", "age": 20, "traits": "quiet", "home": room,
                       "learned": "Kai Mueller shares his brother Klaus's room at the dorm and studies at Oak Hill "
                                  "College."})
        assert exp.sim.world.private_areas[("Dorm for Oak Hill College", "Klaus Mueller's room")] == {
            "Klaus Mueller", "Kai Mueller"}
        exp.run("+20h")
        events = exp.events()
    kai = events[events.agent == "Kai Mueller"]
    assert (kai.kind == "action").sum() > 5
    assert EventStore(tmp_path / "n.db").run()["status"] == "finished"
    log = stores.load_run(tmp_path / "n.db")  # the dashboard knew only the first residents
    assert log.agents == [*(p.name for p in exp.scenario.personas), "Kai Mueller"]
    states = town.agent_states(log, log.reached).set_index("agent")
    assert states.loc["Kai Mueller", "activity"] == kai[kai.kind == "action"].data.iloc[-1]["activity"]


def test_evaluating_an_experiment_grades_its_residents_the_same_each_time_and_as_the_stored_run(tmp_path):
    """``Experiment.evaluate`` asks the live residents; asking again changes nothing, and re-living the stored
    run to the same moment (``evaluate_run``) asks the same questions and gets the same answers."""
    with Experiment(WORLDS / "the_ville_3.yaml", db=tmp_path / "v.db", seed=3, backend=FakeBackend()) as exp:
        exp.run("+4h")
        first, again = exp.evaluate(), exp.evaluate()
        other = exp.evaluate(seed=4)
    assert list(first.categories["category"]) == [*CATEGORIES, "all"]
    assert first.categories.set_index("category").loc["all", "questions"] == len(first.answers) > 10
    assert set(first.answers["agent"]) == {p.name for p in exp.scenario.personas}
    pd.testing.assert_frame_equal(first.answers, again.answers)
    pd.testing.assert_frame_equal(first.categories, again.categories)
    pd.testing.assert_frame_equal(first.rubric.measures, again.rubric.measures)
    assert list(other.answers["question"]) != list(first.answers["question"])
    stored = evaluate_run(tmp_path / "v.db", save=False)
    assert stored.at == first.at
    pd.testing.assert_frame_equal(stored.answers, first.answers)
