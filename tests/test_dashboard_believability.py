"""The dashboard's Believability tab: the rubric from the log at t and over time, and the run's latest evaluation
(graded interview answers) or the command that makes one (issue 27)."""

from __future__ import annotations

import math
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from agentville.dashboard import interviews, rubrics, runlog, stores
from agentville.dashboard.tabs import believability as tab
from agentville.sim.analysis import believability
from agentville.sim.analysis.questions import run_quiz
from agentville.sim.analysis.rubric import rubric
from agentville.sim.analysis.rubric_time import rubric_over_time
from agentville.sim.core import events
from agentville.sim.lab.evaluation import evaluate_run
from agentville.sim.store import evaluations
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, WORLDS
from tests.test_dashboard import APP, check_shown_as_text, hostile, markdown_sources

MADE_UP = "Zorblax Quimby"  # no one of The Ville, and capitalised: a name the grader finds made up


def fake_run(db: Path, until: str = "+6h") -> Path:
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "run", str(WORLDS / "the_ville_3.yaml"),
                           "--llm", "fake", "--until", until, "--db", str(db), "--no-progress"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    return db


def copy(source: Path, target: Path) -> Path:
    with sqlite3.connect(source) as reader, sqlite3.connect(target) as writer:
        reader.backup(writer)
    return target


@pytest.fixture(scope="module")
def plain_db(tmp_path_factory) -> Path:
    """Six hours of The Ville, never evaluated."""
    return fake_run(tmp_path_factory.mktemp("believe") / "ville.db")


@pytest.fixture(scope="module")
def evaluated_db(plain_db, tmp_path_factory) -> Path:
    """The same run evaluated at its end by ``evaluate_run`` (re-lived, interviewed, graded, kept)."""
    db = copy(plain_db, tmp_path_factory.mktemp("evaluated") / "evaluated.db")
    evaluate_run(db)
    return db


@pytest.fixture(scope="module")
def made_up_db(plain_db, tmp_path_factory) -> Path:
    """The same run with an evaluation whose answers (written here, graded by the grader) name a made-up person
    in Klaus's first answer and in every answer of Maria's; the model's name is hostile text, and a model judge
    graded every answer right."""
    db = copy(plain_db, tmp_path_factory.mktemp("made_up") / "made_up.db")
    with EventStore(db) as store:
        run = store.run()
        quiz = run_quiz(store, run["run_id"])
        said = {agent: ["I don't remember."] * len(questions) for agent, questions in quiz.questions.items()}
        said["Klaus Mueller"][0] = f"I had coffee with {MADE_UP} this morning."
        said["Maria Lopez"] = [f"Ask {MADE_UP}, <b>not</b> me."] * len(said["Maria Lopez"])
        answers = believability.graded(quiz, said).assign(judge=believability.RIGHT)  # a lenient model judge
        evaluations.save(store.db, run["run_id"], at=float(run["sim_reached"]), seed=run["seed"],
                         model=hostile("model", "http://127.0.0.1:9"), answers=answers.to_dict(orient="records"),
                         facts={"wall_s": 0.0, "questions": len(answers), "rubric": []})
    return db


def opened(monkeypatch, db: Path) -> AppTest:
    """The dashboard on ``db`` with the Believability tab open."""
    monkeypatch.setenv("AGENTVILLE_DB", str(db))
    test = AppTest.from_file(APP, default_timeout=120)
    test.session_state["view"] = "Believability"
    test.run()
    assert not test.exception, [e.value for e in test.exception]
    return test


def table_with(test: AppTest, *columns: str) -> pd.DataFrame:
    return next(d.value for d in test.dataframe if set(columns) <= set(d.value.columns))


def chart_data(test: AppTest, *columns: str) -> pd.DataFrame:
    """The rows of the chart drawn from data with these columns."""
    for chart in test.get("vega_lite_chart"):
        for data in chart.proto.datasets:
            frame = pa.ipc.open_stream(data.data.data).read_all().to_pandas()
            if set(columns) <= set(frame.columns):
                return frame
    raise AssertionError(f"no chart of {columns}")


def test_an_evaluation_without_answers_still_renders(monkeypatch, plain_db, tmp_path):
    """A run too short for any checkable question is evaluated all the same: nothing to grade, nothing made up."""
    db = copy(plain_db, tmp_path / "silent.db")
    with EventStore(db) as store:
        run = store.run()
        evaluations.save(store.db, run["run_id"], at=60.0, seed=1, model="m", answers=[], facts={})
    test = opened(monkeypatch, db)
    assert next(m.value for m in test.metric if m.label == "Answers with made-up names") == "n/a"
    scores = table_with(test, *believability.CATEGORY_COLUMNS)
    assert (scores["questions"] == 0).all() and scores["score"].isna().all()
    assert table_with(test, "question", "expected", "answer").empty


def stored_answers(db: Path) -> pd.DataFrame:
    with EventStore(db, read_only=True) as store:
        found = evaluations.latest(store.db, store.run()["run_id"])
    assert found is not None
    return pd.DataFrame(found["answers"]).drop(columns="judge", errors="ignore")


def same_values(shown: pd.Series, expected: pd.Series) -> bool:
    return all((math.isnan(a) and math.isnan(b)) or a == pytest.approx(b) for a, b in zip(shown, expected, strict=True))


# -- without an evaluation ---------------------------------------------------------------------------------------
def test_without_an_evaluation_the_tab_shows_the_rubric_and_the_command(monkeypatch, plain_db):
    with sqlite3.connect(plain_db) as db:  # an old store, as far as evaluations go: no table at all
        assert not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'evaluations'").fetchall()
    test = opened(monkeypatch, plain_db)
    assert [c.value for c in test.code] == [f"agentville evaluate {plain_db.name}"]  # the file name, no folder
    assert any(i.value.startswith("No evaluation of this run") for i in test.info)
    log = stores.load_run(plain_db)
    measures = table_with(test, "measure", "unit", "what")
    expected = rubric(log.events, log.scenario, until=log.reached).measures
    assert list(measures["measure"]) == list(expected["measure"]) and list(measures["unit"]) == list(expected["unit"])
    assert list(measures["what"]) == list(expected["what"]) and same_values(measures["value"], expected["value"])
    assert test.multiselect(key="rubric_measures").value == list(rubrics.CHARTED)
    drawn = chart_data(test, "until", "measure", "value")  # the shares over time, at every cut up to t
    assert sorted(drawn["measure"].unique()) == sorted(m for m in rubrics.CHARTED
                                                       if not math.isnan(expected.set_index("measure").loc[m, "value"]))
    assert drawn["until"].nunique() == len(rubrics.cuts(log.reached))
    test.multiselect(key="rubric_measures").set_value(["residents who talked"]).run()
    assert set(chart_data(test, "until", "measure", "value")["measure"]) == {"residents who talked"}


def test_the_rubric_follows_the_chosen_time(monkeypatch, plain_db):
    test = opened(monkeypatch, plain_db)
    test.slider(key="minute").set_value(120.0).run()  # two simulated hours in
    log = stores.load_run(plain_db)
    early = rubric(runlog.upto(log.events, 7200.0), log.scenario, until=7200.0).measures
    assert same_values(table_with(test, "measure", "what")["value"], early["value"])
    assert any(m.value.startswith("**Rubric** — measured from the log up to 2023-02-13 10:00") for m in test.markdown)


def test_the_command_names_the_run_when_it_is_not_the_stores_newest(tmp_path):
    db = fake_run(tmp_path / "two runs.db", "+1h")
    older = stores.load_run(db)
    fake_run(db, "+1h")  # a second run in the same store: the newest
    newer = stores.load_run(db)
    assert interviews.evaluate_command(newer) == "agentville evaluate 'two runs.db'"
    assert interviews.evaluate_command(older) == f"agentville evaluate 'two runs.db' --run {older.run['run_id']}"


def test_the_tab_measures_only_while_it_is_open(monkeypatch, tmp_path):
    """A small log computes every other tab on every rerun; the rubric waits until its tab is opened."""
    measured = []
    monkeypatch.setattr(rubrics, "rubric", lambda *args, **kw: measured.append(kw["until"]) or rubric(*args, **kw))
    db = fake_run(tmp_path / "lazy.db", "+4h")
    monkeypatch.setenv("AGENTVILLE_DB", str(db))
    test = AppTest.from_file(APP, default_timeout=120).run()
    test.slider(key="minute").set_value(60.0).run()
    assert not test.exception and test.session_state["view"] == "Town map" and measured == []
    test.session_state["view"] = "Believability"
    test.run()
    assert measured == [3600.0]  # one cut: the chosen time
    test.run()
    assert measured == [3600.0]  # measured once


# -- with an evaluation ------------------------------------------------------------------------------------------
def test_the_category_table_is_the_stored_answers_graded(monkeypatch, evaluated_db):
    test = opened(monkeypatch, evaluated_db)
    answers = stored_answers(evaluated_db)
    shown = table_with(test, *believability.CATEGORY_COLUMNS)
    expected = believability.categories(answers)
    assert shown.drop(columns="score").equals(expected.drop(columns="score"))
    assert same_values(shown["score"], expected["score"])
    assert not test.code  # no command: there is an evaluation
    log = stores.load_run(evaluated_db)
    caption = next(c.value for c in test.caption if c.value.startswith(f"{len(answers)} questions"))
    assert f"as they were at {log.at(log.reached):%Y-%m-%d %H:%M}, answered by fake" in caption


def test_filtering_by_resident_and_category_narrows_the_worst_answers(monkeypatch, evaluated_db):
    test = opened(monkeypatch, evaluated_db)
    answers = stored_answers(evaluated_db)
    every = table_with(test, "question", "expected", "answer", "grade", "found", "missed", "wrong")
    assert len(every) == tab.WORST and every["agent"].nunique() > 1
    for agent in sorted(answers["agent"].unique()):
        test.selectbox(key="interview_agent").set_value(agent).run()
        theirs = table_with(test, "question", "expected", "answer", "grade")
        expected = believability.worst(answers[answers["agent"] == agent], tab.WORST)
        assert set(theirs["agent"]) == {agent} and list(theirs["question"]) == list(expected["question"])
        assert list(theirs["expected"]) == list(expected["expected"])
        assert len(theirs) == min(tab.WORST, (answers["agent"] == agent).sum()) < len(answers)
        scores = table_with(test, *believability.CATEGORY_COLUMNS)  # the scores are the resident's too
        assert int(scores.loc[scores["category"] == believability.ALL, "questions"].iloc[0]) == len(
            answers[answers["agent"] == agent])
    test.selectbox(key="interview_category").set_value("memory").run()
    memory = table_with(test, "question", "expected", "answer", "grade")
    assert set(memory["category"]) == {"memory"} and set(memory["agent"]) == {agent}
    assert len(memory) == int(((answers["agent"] == agent) & (answers["category"] == "memory")).sum())


def test_made_up_names_are_listed_and_the_models_text_is_shown_as_text(monkeypatch, made_up_db):
    test = opened(monkeypatch, made_up_db)
    answers = stored_answers(made_up_db)
    made_up = answers[answers["hallucinations"].map(bool)]
    assert len(made_up) == 1 + len(answers[answers["agent"] == "Maria Lopez"])  # the grader found them all
    rate = next(m.value for m in test.metric if m.label == "Answers with made-up names")
    assert rate == f"{len(made_up) / len(answers):.0%}"
    listed = table_with(test, "hallucinations", "answer")
    assert len(listed) == len(made_up) and all(MADE_UP in names for names in listed["hallucinations"])
    assert f"I had coffee with {MADE_UP} this morning." in list(listed["answer"])
    assert f"Ask {MADE_UP}, <b>not</b> me." in list(listed["answer"])  # verbatim: a table shows text as it is
    worst = table_with(test, "question", "expected", "found", "missed")
    assert MADE_UP in worst["hallucinations"].iloc[0]  # made-up names are looked at first
    check_shown_as_text(markdown_sources(test), ["answered by model: ![img]("])
    grader, judge = (d.value for d in test.dataframe if list(d.value.columns) == believability.CATEGORY_COLUMNS)
    assert grader.equals(believability.categories(answers)) and (judge["right"] == judge["questions"]).all()
    test.selectbox(key="interview_agent").set_value("Isabella Rodriguez").run()  # she made nothing up
    assert next(m.value for m in test.metric if m.label == "Answers with made-up names") == "0%"
    assert not any("hallucinations" in d.value.columns and "question" not in d.value.columns
                   for d in test.dataframe)


# -- the rubric's cuts -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("hours", [0, 0.5, 3, 7.25, 24, 25, 48, 71, 200])
def test_cuts_lie_on_the_grid_end_at_t_and_stay_few(hours):
    t = hours * 3600
    at = rubrics.cuts(t)
    assert at[-1] == t and at == sorted(set(at)) and len(at) <= rubrics.MAX_CUTS + 1
    assert all(cut % rubrics.EVERY_S == 0 for cut in at[:-1])
    assert len(at) >= min(rubrics.MAX_CUTS / 2, t // rubrics.EVERY_S)  # not fewer than the chart has room for


@pytest.mark.parametrize("hours", [3, 24, 25, 30, 71, 200])
def test_later_cuts_are_cuts_measured_before(hours):
    """As a live run goes on, the chart's cuts up to an earlier moment are among those measured at that moment."""
    t = hours * 3600
    for later in (t + 3600, t + 5 * 3600, 2 * t, 3 * t + 1800):
        assert {c for c in rubrics.cuts(later) if c <= t} <= set(rubrics.cuts(t)), later


def test_the_rubric_over_time_is_the_analysis_one(plain_db):
    """On the grid, the cuts of ``sim.analysis.rubric_time``; the last at t itself (the log has reached t, even
    where its last row is earlier: the analysis cuts a log at its last row)."""
    log = stores.load_run(plain_db)
    for t in (6 * 3600.0, 4.5 * 3600, 1800.0):
        shown = rubrics.Rubrics().over_time(log, t)
        grid = [log.at(c) for c in rubrics.cuts(t)[:-1]]
        expected = rubric_over_time(runlog.upto(log.events, t), log.scenario)
        expected = expected[expected["until"].isin(grid)]
        assert len(expected) == len(grid) * len(rubric(log.events).measures)
        on_grid = shown[shown["until"].isin(grid)]
        assert list(on_grid["until"]) == list(expected["until"])
        assert list(on_grid["measure"]) == list(expected["measure"]) and same_values(on_grid["value"], expected["value"])
        last = shown[shown["until"] == log.at(t)]
        assert same_values(last["value"], rubric(runlog.upto(log.events, t), log.scenario, until=t).measures["value"])


def test_a_cut_is_measured_once_and_a_live_runs_newest_cut_again_when_it_grows(monkeypatch, plain_db):
    measured = []
    monkeypatch.setattr(rubrics, "rubric", lambda *args, **kw: measured.append(kw["until"]) or rubric(*args, **kw))
    every = EventStore(plain_db).events()[runlog.COLUMNS]
    run = {"run_id": "r", "scenario": "S", "status": events.RUNNING, "sim_start": "2023-02-13T08:00:00"}
    held = rubrics.Rubrics()
    early = runlog.RunLog(run, every[every["sim_time"] <= 4 * 3600], None)
    held.over_time(early, early.logged_until)
    held.over_time(early, early.logged_until)
    assert measured == [3 * 3600, early.logged_until]  # measured once for this log
    grown = runlog.RunLog(run, every, None)
    held.over_time(grown, early.logged_until)
    assert measured == [3 * 3600, early.logged_until, early.logged_until]  # the newest cut of a live run, again
    held.at(grown, 3 * 3600)
    assert len(measured) == 3  # a cut it had logged past: kept
