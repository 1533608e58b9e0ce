"""Interview questions with known answers (sim.analysis.questions) and their grading (sim.analysis.grading)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

import pytest

from agentville.sim.analysis.diaries import Diaries, Diary, Row, Talk
from agentville.sim.analysis.grading import DOES_NOT_KNOW, PARTLY, RIGHT, WRONG, grade, time_matches, times_in
from agentville.sim.analysis.naming import TownNames
from agentville.sim.analysis.questions import (
    CATEGORIES,
    DECISIONS,
    HOME_WORDS,
    MEMORY,
    PLANS,
    REACTIONS,
    REFLECTIONS,
    SELF,
    Question,
    Town,
    quiz,
    run_quiz,
)
from agentville.sim.core.location import place_of
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario.loading import load_scenario
from agentville.sim.store.eventstore import EventStore
from agentville.sim.world.geography import World

ROOT = Path(__file__).resolve().parents[1]
RESIDENTS = ["Isabella Rodriguez", "Maria Lopez", "Klaus Mueller", "Sam Moore", "Hailey Johnson", "Ryan Park"]
PLACES = {"Hobbs Cafe": [], "Oak Hill College": [], "Johnson Park": [], "The Willows Market and Pharmacy": ["the Willows"],
          "Dorm for Oak Hill College": [], "Harvey Oak Supply Store": []}
KNOWS = {"Maria Lopez": ({"Isabella Rodriguez", "Klaus Mueller"},
                         {"Hobbs Cafe", "Oak Hill College", "Johnson Park", "The Willows Market and Pharmacy",
                          "Dorm for Oak Hill College"})}
TOWN = Town(TownNames(RESIDENTS, PLACES, ["Valentine's Day party", "Maria studies Physics"]),
            {n: frozenset(p) for n, (p, _) in KNOWS.items()}, {n: frozenset(p) for n, (_, p) in KNOWS.items()},
            {"Maria Lopez": "Dorm for Oak Hill College"})
M = "Maria Lopez"


def q(category: str, text: str, answer: str, **facts) -> Question:
    return Question(M, category, text, answer, **facts)


def fact(category: str, text: str, keywords: tuple[str, ...], needed: int, **more) -> Question:
    return q(category, text, " ".join(keywords), keywords=keywords, needed=needed, **more)


NAME = q(SELF, "What is your name?", M, people=(M,))
AGE = q(SELF, "How old are you?", "21", keywords=("21",), needed=1)
HOME = q(SELF, "Where do you live?", "Dorm for Oak Hill College", places=("Dorm for Oak Hill College",))
TRAITS = fact(SELF, "How would you describe your personality?", ("energetic", "curious", "kind", "night"), 2)
WHO = q(MEMORY, "Who did you talk to today?", "Isabella Rodriguez", people=("Isabella Rodriguez",), only=True)
WHO_TWO = dataclasses.replace(WHO, people=("Isabella Rodriguez", "Klaus Mueller"))
WHERE = q(MEMORY, "Where were you at 10:30?", "Hobbs Cafe", places=("Hobbs Cafe",), only=True)
AT_HOME = dataclasses.replace(WHERE, places=("Dorm for Oak Hill College",), place_also=HOME_WORDS)
WHEN = q(MEMORY, "When did you talk to Isabella Rodriguez today?", "13:43", times=("13:43",))
TOLD = fact(MEMORY, "What did Isabella Rodriguez tell you?", ("planning", "valentine", "party", "hobb", "cafe",
                                                                  "february"), 3)
PLAN = fact(PLANS, "What will you be doing at 19:00?", ("streaming", "game"), 1)
REACT = q(REACTIONS, "At 13:43 you see Isabella Rodriguez at Hobbs Cafe. What would you do?", "talk",
          keywords=DECISIONS["talk"], needed=1, contrary=DECISIONS["wait"] + DECISIONS["carry on"])
LEARNED = fact(REFLECTIONS, "What have you learned about Isabella Rodriguez?", ("planning", "valentine", "party",
                                                                                 "hobb", "cafe", "february"), 3)
EVERYONE = "I talked to Isabella Rodriguez, Maria Lopez, Klaus Mueller and Sam Moore."

CASES = [  # question, answer, grade, hallucinated names
    (NAME, "I'm Maria Lopez.", RIGHT, ()), (NAME, "maria", RIGHT, ()), (NAME, "My name is Klaus.", WRONG, ()),
    (NAME, "I don't know.", DOES_NOT_KNOW, ()), (NAME, "", DOES_NOT_KNOW, ()),
    (AGE, "I am 21 years old.", RIGHT, ()), (AGE, "I'm 34.", WRONG, ()),
    (HOME, "I live in the dorm for Oak Hill College.", RIGHT, ()), (HOME, "At home, in my room.", WRONG, ()),
    (HOME, "Johnson Park", WRONG, ()), (HOME, "I live near Starbucks.", WRONG, ("Starbucks",)),
    (TRAITS, "I'm energetic and curious, a real night owl.", RIGHT, ()), (TRAITS, "Kind, I hope.", PARTLY, ()),
    (TRAITS, "I am lazy.", WRONG, ()),
    (WHO, "Isabella.", RIGHT, ()), (WHO, "I talked to Isabella Rodriguez at the cafe.", RIGHT, ()),
    (WHO, EVERYONE, WRONG, ("Sam Moore",)), (WHO_TWO, EVERYONE, PARTLY, ("Sam Moore",)),
    (WHO_TWO, "Isabella and Klaus.", RIGHT, ()), (WHO_TWO, "Only Isabella Rodriguez.", PARTLY, ()),
    (WHO, "I talked to Isabella and to John Smith.", WRONG, ("John Smith",)),
    (WHO, "Klaus Mueller", WRONG, ()), (WHO, "I can't remember who I talked to.", DOES_NOT_KNOW, ()),
    (WHERE, "I was at Hobbs Cafe studying.", RIGHT, ()), (WHERE, "At home.", WRONG, ()),
    (AT_HOME, "I was at home, in my room.", RIGHT, ()), (AT_HOME, "In the dorm for Oak Hill College.", RIGHT, ()),
    (AT_HOME, "At Hobbs Cafe.", WRONG, ()),
    (dataclasses.replace(WHERE, places=("Johnson Park",)), "In Johnson Park.", RIGHT, ()),  # names no Park or Johnson
    (WHERE, "I was with Ryan at Johnson Park.", WRONG, ("Ryan Park",)), (WHERE, "At hobs cafe.", RIGHT, ()),
    (WHERE, "At the library of Oak Hill College.", WRONG, ()),
    (WHERE, "At Hobbs Cafe, or maybe Johnson Park.", WRONG, ()),  # a hedge between two: as many wrong as right
    (WHERE, "At Hobbs Cafe with Bob Jenkins.", PARTLY, ("Bob Jenkins",)),
    (WHERE, "I was at the Blue Moon Diner.", WRONG, ("Blue Moon Diner",)),
    (WHERE, "At Harvey Oak Supply Store.", WRONG, ("Harvey Oak Supply Store",)),
    (WHERE, "Not sure, sorry.", DOES_NOT_KNOW, ()),
    (WHEN, "Around 13:45.", RIGHT, ()), (WHEN, "At a quarter to two.", RIGHT, ()), (WHEN, "1.40pm", RIGHT, ()),
    (WHEN, "At half past ten.", WRONG, ()), (WHEN, "I don't remember.", DOES_NOT_KNOW, ()),
    (TOLD, "She is planning a Valentine's Day party at Hobbs Cafe.", RIGHT, ()),
    (TOLD, "Something about a party.", PARTLY, ()), (TOLD, "She said the weather is nice.", WRONG, ()),
    (TOLD, "She's planning a party with Bob Jenkins at Hobbs Cafe.", PARTLY, ("Bob Jenkins",)),
    (TOLD, "I have no idea.", DOES_NOT_KNOW, ()),
    (PLAN, "I'll be streaming a game.", RIGHT, ()), (PLAN, "Streaming games, probably!", RIGHT, ()),
    (PLAN, "Sleeping.", WRONG, ()), (PLAN, "I don't know yet.", DOES_NOT_KNOW, ()),
    (REACT, "I would go over and talk to her.", RIGHT, ()), (REACT, "I'd start chatting with Isabella.", RIGHT, ()),
    (REACT, "I'd wait until she is free, then talk.", PARTLY, ()), (REACT, "I would carry on studying.", WRONG, ()),
    (REACT, "I don't know.", DOES_NOT_KNOW, ()),
    (LEARNED, "She is planning a Valentine's Day party in February.", RIGHT, ()),
    (LEARNED, "She runs Hobbs Cafe.", PARTLY, ()), (LEARNED, "She is a doctor.", WRONG, ()),
    (LEARNED, "She is planning a party with Sam Moore at Hobbs Cafe.", PARTLY, ("Sam Moore",)),
]


@pytest.mark.parametrize(("question", "answer", "expected", "made_up"), CASES)
def test_hand_written_answers_get_their_grade(question, answer, expected, made_up):
    graded = grade(question, answer, TOWN)
    assert graded.grade == expected, graded
    assert set(graded.hallucinations) == set(made_up)


def test_grading_is_deterministic_and_listing_everyone_never_helps():
    assert [grade(c[0], c[1], TOWN) for c in CASES] == [grade(c[0], c[1], TOWN) for c in CASES]
    for question in (WHO, WHO_TWO, WHERE):
        assert grade(question, EVERYONE + " Also every place: " + ", ".join(PLACES), TOWN).grade != RIGHT


@pytest.mark.parametrize(("text", "minute"), [("10:30", 630), ("half past ten", 630), ("10.30am", 630),
                                              ("3 pm", 900), ("quarter to three in the afternoon", 885),
                                              ("noon", 720), ("seven o'clock", 420), ("ten thirty", 630)])
def test_times_however_said(text, minute):
    assert times_in(text)[0][0] % 720 == minute % 720
    assert time_matches(f"{minute // 60:02d}:{minute % 60:02d}", text)


def _fake_run(folder: Path, scenario: str, hours: float) -> Path:
    db = folder / "run.db"
    with open_run(ROOT / "worlds" / scenario, db=db, llm="fake") as sim:
        sim.run(sim.scenario.start + dt.timedelta(hours=hours))
    return db


@pytest.fixture(scope="module")
def fake_run(tmp_path_factory):
    return _fake_run(tmp_path_factory.mktemp("quiz"), "the_ville_3.yaml", 6)


@pytest.fixture(scope="module", params=[("the_ville_3.yaml", 6), ("smallville.yaml", 4)], ids=["ville3", "smallville"])
def any_run(request, tmp_path_factory, fake_run):
    if request.param[0] == "the_ville_3.yaml":
        return fake_run
    return _fake_run(tmp_path_factory.mktemp("quiz"), *request.param)


def _quiz(db, seed, at=None):
    with EventStore(db, read_only=True) as store:
        return run_quiz(store, at=at, seed=seed), store.events()


def test_questions_from_a_fake_run_agree_with_the_log(any_run):
    made, log = _quiz(any_run, 7)
    rows = log.set_index("seq")
    asked = [x for questions in made.questions.values() for x in questions]
    assert {x.category for x in asked} == set(CATEGORIES)
    for x in asked:
        for seq in x.evidence:
            row = rows.loc[seq]
            assert row["agent"] == x.agent or x.agent in str(row["data"]), (x, row)
        if x.text.startswith("Where were you") and x.category == MEMORY:
            assert place_of(rows.loc[x.evidence[0], "data"]["location"]) == x.places[0]
        if x.category == REACTIONS:
            assert rows.loc[x.evidence[0], "data"]["decision"] == x.answer
        if x.text == "Who did you talk to today?":
            starts = log[log["kind"] == "conversation_start"]
            partners = {d["partner"] for a, d in zip(starts["agent"], starts["data"]) if a == x.agent}
            partners |= {a for a, d in zip(starts["agent"], starts["data"]) if d["partner"] == x.agent}
            assert set(x.people) == partners
    right = [grade(x, x.answer, made.town) for x in asked]  # the expected answer, said back, is right
    assert [g.grade for g in right] == [RIGHT] * len(asked), [(x, g) for x, g in zip(asked, right) if g.grade != RIGHT]
    assert all(grade(x, "I don't remember.", made.town).grade == DOES_NOT_KNOW for x in asked)


def test_same_seed_same_questions_another_seed_another_sample(fake_run):
    first, _ = _quiz(fake_run, 7)
    again, _ = _quiz(fake_run, 7)
    other, _ = _quiz(fake_run, 8)
    assert first.questions == again.questions
    assert first.questions != other.questions
    assert {a: [x.category for x in qs] for a, qs in first.questions.items()}.keys() == other.questions.keys()


def test_questions_up_to_a_time_know_only_the_log_until_then(fake_run):
    early, log = _quiz(fake_run, 7, dt.datetime(2023, 2, 13, 9, 0))
    last = int(log[log["sim_time"] <= 3600]["seq"].max())
    assert all(seq <= last for qs in early.questions.values() for x in qs for seq in x.evidence)
    maria = [x.text for x in early.questions["Maria Lopez"]]
    assert "Who did you talk to today?" not in maria  # she talked to Isabella only at 13:43


def _diaries_of_maria(**fields) -> Diaries:
    scenario = load_scenario(ROOT / "worlds" / "the_ville_3.yaml", quiet=True)
    persona = next(p for p in scenario.personas if p.name == M)
    diary = Diary(M, persona, **fields)
    return Diaries({M: diary}, World(scenario), scenario.start.replace(hour=0), 13 * 3600.0)  # at 13:00


def test_plan_questions_ask_the_clock_half_hours_of_blocks_that_start_off_them():
    for start, end, expected in [("13:45", "15:00", {"14:00", "14:30"}), ("12:10", "13:40", {"13:30"}),
                                 ("16:20", "16:50", {"16:30"}), ("12:00", "13:00", set())]:
        plan = Row(0.0, 4, {"level": "day", "date": "2023-02-13",
                            "schedule": [{"start": start, "end": end, "activity": "painting the fence"}]})
        asked = quiz(_diaries_of_maria(plans=[plan]), 7).questions[M]
        assert {x.text[-6:-1] for x in asked if x.category == PLANS} == expected, (start, end)


def test_no_question_whose_answer_holds_nothing_to_check():
    for line in ("Not much new here.", "Oh, you know.", "Yes!"):
        talk = Talk("Isabella Rodriguez/1", "Isabella Rodriguez", 12 * 3600.0, "Hobbs Cafe", 3, [(4, line)])
        asked = quiz(_diaries_of_maria(talks=[talk]), 7).questions[M]
        assert "What did Isabella Rodriguez tell you?" not in [x.text for x in asked]
        assert all(x.people or x.places or x.times or x.keywords for x in asked)


@pytest.mark.parametrize("answer", ["[Mon 13:43] I was at Hobbs Cafe", "On Tue at Hobbs Cafe, like every Sept",
                                    "Sat 09:00: Hobbs Cafe, then Dec plans", "Wed. Hobbs Cafe."])
def test_days_and_months_said_short_are_no_made_up_names(answer):
    """Interview memories carry a time stamp ("[Mon 13:43]"); an answer repeating it names no one."""
    named = TOWN.names.read(answer)
    assert named.strange_people == () and named.strange_places == ()


def test_the_fake_answers_a_question_at_a_time_with_the_memory_nearest_it():
    from agentville.sim.generation import FakeBackend
    from agentville.sim.generation.requests import TextRequest

    prompt = ("Ann Lee is 30.\nWhat Ann Lee remembers:\n- [Mon 08:05] Ann Lee is having breakfast at Home\n"
              "- [Mon 10:25] Ann Lee is working at Hobbs Cafe\n- [Mon 13:02] Ann Lee is reading at the library\n\n"
              "Interviewer: Where were you at 10:30?\nAnn Lee:")
    said = FakeBackend().answer(TextRequest(prompt, max_tokens=96, purpose="interview")).text
    assert said == "I remember this: [Mon 10:25] Ann Lee is working at Hobbs Cafe"
    nothing = prompt.split("What Ann Lee remembers:")[0] + "What Ann Lee remembers:\n- nothing yet\n\nInterviewer: Hi?"
    assert FakeBackend().answer(TextRequest(nothing, purpose="interview")).text == "I don't remember."
