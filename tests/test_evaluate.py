"""``evaluate_run`` against doubles whose answers are known: each must move its score the way it says.

The runs are short fake runs of the three-person Ville (six simulated hours, about a second each). A
double is the fake backend with one purpose answered otherwise (``FakeBut``): it keeps the fake's model
id, so re-living a fake run to ask its residents finds every answer of the run in the store's cache
(keyed by model id and prompt) and only the interviews reach the double.
"""

from __future__ import annotations

import datetime as dt
import math
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from agentville.sim.analysis.believability import POINTS, graded, hallucination_rate
from agentville.sim.analysis.grading import DOES_NOT_KNOW, RIGHT
from agentville.sim.analysis.questions import CATEGORIES, MEMORY, PLANS, run_quiz
from agentville.sim.core.errors import UserError
from agentville.sim.generation import FakeBackend
from agentville.sim.generation.requests import Completion, Request
from agentville.sim.lab.evaluation import Evaluation, evaluate_run
from agentville.sim.lab.experiment import Experiment
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario import load_scenario
from agentville.sim.scenario.schema import Scenario
from agentville.sim.store import evaluations
from agentville.sim.store.eventstore import EventStore
from tests.conftest import WORLDS

VILLE = WORLDS / "the_ville_3.yaml"
SEED, HOURS = 2, 6  # a morning with three conversations: every category gets questions
LIAR = "I was at the Blue Moon Diner with Zorbo Quist."
PARROT = "did you hear about the party at Hobbs Cafe?"
FILLERS = ("So", "Oh", "Well", "Hey", "And", "But", "Look", "Say", "Now", "Yes")  # one per line of a conversation


class FakeBut(FakeBackend):
    """The fake backend, except for the purposes given (a string, or a function of the request)."""

    def __init__(self, **answers: str | Callable[[Request], str]):
        super().__init__()
        self.scripted = answers
        self.asked: list[Request] = []

    def answer(self, request: Request) -> Completion:
        reply = self.scripted.get(request.purpose)
        if reply is None:
            return super().answer(request)
        self.calls += 1
        self.asked.append(request)
        text = reply(request) if callable(reply) else reply
        return Completion(text, len(request.prompt.split()), len(text.split()))


def question_of(request: Request) -> str:
    """What an interview request asks (its ``Interviewer:`` line)."""
    return next(line for line in reversed(request.prompt.splitlines()) if line.startswith("Interviewer: "))[13:]


def parrot_line(request: Request) -> str:
    """The same line again and again, a filler word ahead of it so that the dialogue's guard against a line
    said word for word earlier in the conversation lets it through (a real model's near-echo)."""
    transcript = request.prompt.rstrip().split("\n\n")[-1].splitlines()[:-1]  # its lines so far
    return f"{FILLERS[len(transcript) % len(FILLERS)]}, {PARROT}"


def live(db: Path, scenario: Path | Scenario = VILLE, backend: FakeBackend | None = None, hours: float = HOURS,
         seed: int = SEED, **cognition: bool) -> Path:
    """A finished fake run of ``hours`` in the store ``db``."""
    with open_run(scenario, db=db, seed=seed, llm="fake", backend=backend, cognition=cognition or None) as sim:
        sim.run(sim.scenario.start + dt.timedelta(hours=hours))
    return db


def score(evaluation: Evaluation, category: str) -> float:
    return float(evaluation.categories.set_index("category").loc[category, "score"])


def measure(evaluation: Evaluation, name: str) -> float:
    return float(evaluation.rubric.measures.set_index("measure").loc[name, "value"])


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("evaluate")


@pytest.fixture(scope="module")
def run_db(folder) -> Path:
    return live(folder / "fake.db")


@pytest.fixture(scope="module")
def fake(run_db) -> Evaluation:
    return evaluate_run(run_db, save=False)


def test_the_fake_run_gets_questions_of_every_category_and_answers_some_right(fake):
    table = fake.categories.set_index("category")
    assert list(table.index) == [*CATEGORIES, "all"]
    assert (table.loc[list(CATEGORIES), "questions"] > 0).all()
    assert table.loc["all", "questions"] == len(fake.answers) == fake.questions
    assert 0 < score(fake, "all") < 1 and 0 < score(fake, MEMORY) < 1
    assert fake.hallucination_rate == 0.0  # it quotes its own memories, which name only the town
    assert not fake.answers["answer"].str.contains("don't remember").any()  # every resident recalls something


def test_an_amnesiac_knows_nothing(run_db):
    amnesiac = evaluate_run(run_db, backend=FakeBut(interview="I don't remember."), save=False)
    assert score(amnesiac, MEMORY) == 0.0 and score(amnesiac, "all") == 0.0
    assert (amnesiac.answers["grade"] == DOES_NOT_KNOW).all()
    assert amnesiac.hallucination_rate == 0.0


def test_a_liar_naming_people_and_places_that_do_not_exist_is_caught(run_db):
    """Graded as it was said, the lie is caught (the residents' own check refuses it first: see below)."""
    with EventStore(run_db, read_only=True) as store:
        quiz = run_quiz(store)
    lied = graded(quiz, {name: [LIAR] * len(questions) for name, questions in quiz.questions.items()})
    assert hallucination_rate(lied) == 1.0
    made_up = {name for names in lied["hallucinations"] for name in names}
    assert made_up == {"Zorbo Quist", "Blue Moon Diner"}
    assert RIGHT not in set(lied["grade"])


def test_a_liars_made_up_names_are_refused_and_the_residents_answer_from_memory(run_db, fake):
    """The residents refuse an answer naming people they never met and places the town lacks
    (``agents.talk.interview``): asked again, the liar lies again, and each answers with what it recalled."""
    liar = FakeBut(interview=LIAR)
    lied = evaluate_run(run_db, backend=liar, save=False)
    assert len(liar.asked) == 2 * len(lied.answers)  # only the interviews reached the double, each twice
    assert not lied.answers["answer"].str.contains("Zorbo|Blue Moon").any()
    assert lied.answers["answer"].str.match(r"I remember this: |I don't remember\.$").all()
    assert lied.hallucination_rate == fake.hallucination_rate == 0.0


def test_an_oracle_answering_what_the_log_says_scores_full_marks(run_db):
    """Each question answered with its own expected answer: the grader agrees with the questions it was made
    for, through the whole path (re-live, interview prompt, the agent's clean-up of the line, grading)."""
    with EventStore(run_db, read_only=True) as store:
        quiz = run_quiz(store)
    expected = {(q.agent, q.text): q.answer for questions in quiz.questions.values() for q in questions}
    oracle = evaluate_run(run_db, backend=FakeBut(interview=lambda r: expected[r.agent, question_of(r)]),
                          save=False)
    said = zip(oracle.answers["expected"], oracle.answers["answer"], strict=True)
    assert all(expected.startswith(answer) and answer for expected, answer in said)  # a long one is cut short
    assert "34" in set(oracle.answers["answer"])  # a bare number answers "How old are you?"
    assert (oracle.answers["grade"] == RIGHT).all(), oracle.answers[oracle.answers["grade"] != RIGHT]
    assert (oracle.categories.loc[oracle.categories["questions"] > 0, "score"] == 1.0).all()
    assert oracle.hallucination_rate == 0.0


def test_without_memory_nothing_is_recalled_so_nothing_is_remembered(folder, fake):
    forgetful = evaluate_run(live(folder / "no-memory.db", memory=False, reflection=False, planning=False),
                             save=False)
    assert score(fake, MEMORY) > score(forgetful, MEMORY) == 0.0
    assert score(fake, "all") > score(forgetful, "all") == 0.0
    assert (forgetful.answers["grade"] == DOES_NOT_KNOW).all()  # the fake says so when its prompt lists nothing
    assert forgetful.categories.set_index("category").loc[MEMORY, "questions"] > 0


@pytest.mark.slow
def test_retrieving_by_relevance_remembers_more_than_the_latest_memories_over_several_mornings(folder):
    """Per run the difference can be small (seed 1 at 6 h: 0.46 against 0.44), so the memory answers of four
    seeds are pooled (about 0.59 against 0.44 over seeds 1-6)."""
    full, latest = [], []
    for seed in (1, 2, 3, 4):
        full.append(evaluate_run(live(folder / f"full-{seed}.db", seed=seed), save=False).answers)
        latest.append(evaluate_run(live(folder / f"latest-{seed}.db", seed=seed, retrieval=False),
                                   save=False).answers)

    def memory_score(answers: list[pd.DataFrame]) -> float:
        pooled = pd.concat(answers)
        return float(pooled.loc[pooled["category"] == MEMORY, "grade"].map(POINTS).mean())

    assert memory_score(full) > memory_score(latest) + 0.1


def test_a_parrot_repeating_its_line_drives_repeated_lines_up(folder, fake):
    parrot = evaluate_run(live(folder / "parrot.db", backend=FakeBut(utterance=parrot_line)),
                          backend=FakeBut(utterance=parrot_line), save=False)
    assert measure(parrot, "repeated lines") > measure(fake, "repeated lines") + 0.3
    assert measure(parrot, "conversation loops") > measure(fake, "conversation loops")
    with EventStore(folder / "parrot.db", read_only=True) as store:
        lines = [d["text"] for d in store.events(kinds=["utterance"])["data"]]
    assert sum(PARROT in line for line in lines) > len(lines) / 2


def test_residents_who_never_leave_home_visit_fewer_places_a_day(folder, fake):
    """Every habit at home, no public place known, and the model's choice of a place is always home."""
    ville = load_scenario(VILLE)
    homes = {p.name: p.home.split(":")[0] for p in ville.personas}
    indoors = ville.model_copy(update={"personas": [p.model_copy(update={
        "routine": [step.model_copy(update={"place": "home"}) for step in p.routine], "knows": []})
        for p in ville.personas]})
    stay_home = FakeBut(location_place=lambda r: homes[str(r.agent)])
    kept_in = evaluate_run(live(folder / "home.db", indoors, backend=stay_home), save=False)
    assert measure(kept_in, "places per day") == 1.0 < measure(fake, "places per day")
    wheres = kept_in.answers[kept_in.answers["question"].str.startswith("Where were you")]
    assert len(wheres) and all(answer == homes[agent] for agent, answer in zip(wheres["agent"], wheres["expected"]))


def test_the_same_run_and_seed_give_the_same_answers_and_another_seed_other_questions(run_db, fake):
    again = evaluate_run(run_db, save=False)
    pd.testing.assert_frame_equal(fake.answers, again.answers)
    pd.testing.assert_frame_equal(fake.categories, again.categories)
    other = evaluate_run(run_db, seed=SEED + 1, save=False)
    assert other.seed == SEED + 1 and fake.seed == SEED
    assert set(other.answers["question"]) != set(fake.answers["question"])
    asked = {SEED: set(fake.answers["question"]), SEED + 1: set(other.answers["question"])}
    assert asked[SEED] & asked[SEED + 1]  # the self-knowledge questions are everyone's, whatever the seed


def test_a_moment_in_the_middle_of_the_run_is_evaluated_as_it_was_then(run_db, fake):
    start = load_scenario(VILLE).start
    middle = evaluate_run(run_db, at="+3h", save=False)
    assert middle.at == start + dt.timedelta(hours=3) and fake.at == start + dt.timedelta(hours=HOURS)
    asked_at = middle.answers["question"].str.extract(r"^Where were you at (\d\d):(\d\d)\?$").dropna()
    assert len(asked_at) and all(int(h) * 60 + int(m) < (start.hour + 3) * 60 for h, m in asked_at.values)
    plans = middle.answers.loc[middle.answers["category"] == PLANS, "question"].str.extract(r"at (\d\d):(\d\d)")
    assert all(int(h) * 60 + int(m) > (start.hour + 3) * 60 for h, m in plans.values)
    assert not middle.answers.equals(fake.answers)


@pytest.mark.parametrize("at", ["+7h", "+6h1m", "2023-02-13T07:00", "2023-02-13T08:00", "+0m", "2023-02-20T09:00",
                                "soon"])
def test_a_moment_outside_the_run_is_a_clear_error(run_db, at):
    with pytest.raises(UserError, match="--at"):
        evaluate_run(run_db, at=at, save=False)


def test_questions_of_a_tiny_run_have_the_answers_worked_out_by_hand(tiny_path, tmp_path):
    """Two hours of the tiny town (tests/conftest.py), read by hand from its log: Ann (30, cheerful) and Bob (41,
    quiet) live at Home; both leave for the Cafe just after 08:00 (Ann at 08:00:10, Bob at 08:00:17) and are
    there by 08:08, when they talk; Ann's plan serves coffee from 13:00 to 20:00, Bob's reads from 09:00."""
    db = live(tmp_path / "tiny.db", tiny_path, hours=2, seed=3)
    with EventStore(db, read_only=True) as store:
        quiz = run_quiz(store)
    asked = {(q.agent, q.text): q for questions in quiz.questions.values() for q in questions}
    by_hand = {("Ann", "What is your name?"): "Ann", ("Ann", "How old are you?"): "30",
               ("Ann", "Where do you live?"): "Home", ("Bob", "How would you describe your personality?"): "quiet",
               ("Bob", "How old are you?"): "41", ("Ann", "Who did you talk to today?"): "Bob",
               ("Bob", "Who did you talk to today?"): "Ann", ("Ann", "When did you talk to Bob today?"): "08:08",
               ("Bob", "When did you talk to Ann today?"): "08:08"}
    for key, answer in by_hand.items():
        assert asked[key].answer == answer, key
    where = {"07:30": "Home", "08:00": "Home", "08:30": "Cafe"}  # the same for both
    doing = {"Ann": lambda at: "serving coffee" if "13:00" <= at < "20:00" else None,
             "Bob": lambda at: "reading" if "09:00" <= at < "22:00" else None}
    wheres = [(q.text[-6:-1], q.answer) for q in asked.values() if q.text.startswith("Where were you")]
    plans = [(q.agent, q.text[-6:-1], q.answer) for q in asked.values() if q.category == PLANS]
    assert len(wheres) == 4 and all(where[at] == answer for at, answer in wheres)
    assert len(plans) == 4 and all(doing[agent](at) == answer for agent, at, answer in plans)
    assert {q.category for q in asked.values()} == set(CATEGORIES)


def test_saving_keeps_the_answers_in_the_store(folder, run_db, fake):
    with EventStore(run_db, read_only=True) as store:
        assert evaluations.latest(store.db, fake.run_id) is None  # never saved: a store without the table
    copy = folder / "saved.db"
    with sqlite3.connect(run_db) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    saved = evaluate_run(copy, save=True)
    with EventStore(copy, read_only=True) as store:
        kept = evaluations.latest(store.db, saved.run_id)
    assert kept is not None and kept["seed"] == SEED and kept["model"] == "fake"
    assert kept["at"] == HOURS * 3600
    pd.testing.assert_frame_equal(pd.DataFrame(kept["answers"]), fake.answers)
    assert {row["measure"] for row in kept["facts"]["rubric"]} >= {"places per day", "repeated lines"}
    assert not math.isnan(kept["facts"]["wall_s"])


@pytest.mark.parametrize("said", ["34", "10:30", "7", "1990", "9.30"])
def test_a_bare_number_or_time_is_an_answer_not_an_empty_line(tiny, tmp_path, said):
    """The line clean-up took a line without a letter for an empty one, so an interviewee answering "How old
    are you?" with "34" was graded on its plain "I'd rather not say much about that" instead."""
    with Experiment(tiny, db=tmp_path / "n.db", backend=FakeBut(interview=said)) as exp:
        assert exp.interview("Ann", "How old are you?") == said


@pytest.mark.parametrize("said", ["...", "  ", "—", "?!", '""'])
def test_a_line_with_neither_word_nor_number_is_still_refused(tiny, tmp_path, said):
    with Experiment(tiny, db=tmp_path / "n.db", backend=FakeBut(interview=said)) as exp:
        assert exp.interview("Ann", "How old are you?").startswith("I'd rather not say much about that.")
