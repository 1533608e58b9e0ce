"""Grounded text: what residents say, sum up, take away and answer names only what was said, recalled or is in
the town (``agents.llm.grounded``); a made-up name is refused, asked again, then replaced by the plain answer."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from agentville.agents.llm.asking import Unparseable
from agentville.agents.llm.grounded import Grounds, grounds
from agentville.agents.talk.conversation import MAX_LINE_CHARS
from agentville.sim.core import events as ev
from agentville.sim.core.placenames import words
from agentville.sim.generation import FakeBackend
from agentville.sim.generation.requests import Completion, Request
from agentville.sim.lab.experiment import Experiment
from agentville.sim.runtime.runner import open_run
from agentville.sim.store.eventstore import EventStore

VILLE = Path(__file__).resolve().parent.parent / "worlds" / "the_ville_3.yaml"
SAID = ("Ann: Are you coming to the Smith party at 3 pm on Friday?",
        "Tom: Yes, and I'll bring bread from hobbs cafe.",
        "Klaus Mueller lives next to the Moores and Dr. Lee")
REASON = re.compile(r"^names .+, which nobody said$")


class Scripted(FakeBackend):
    """The fake backend, except for the purposes given: those get the same answer every time."""

    def __init__(self, **answers: str):
        super().__init__()
        self.answers = answers
        self.asked: list[Request] = []

    def answer(self, request: Request) -> Completion:
        said = self.answers.get(request.purpose)
        if said is None:
            return super().answer(request)
        self.asked.append(request)
        return Completion(said, len(request.prompt.split()), len(said.split()))


@pytest.mark.parametrize(("answer", "made_up"), [
    ("Tom said he would bring Zorblax along.", "Zorblax"),  # a person
    ("They will meet at the Blue Moon Diner.", "Blue Moon Diner"),  # a place
    ("Tom is going to the Harvest Festival.", "Harvest Festival"),  # an event
    ("Ann and Sarah Connor talked about bread.", "Sarah Connor"),
    ("Tom will come by at 10:30.", "10:30"),  # a time
    ("Tom will come by at 4pm with the bread.", "4pm"),
    ("Tom will come by on tuesday.", "tuesday"),  # a weekday, in any case and anywhere
    ("Wednesday is when Tom comes.", "Wednesday"),
    ("Ann and Tom talked about the Smith party and Tom's trip to Paris.", "Paris"),
    ("Tom moved here in 2014.", "2014"),  # a year said as one
    ("Tom has a plan for Friday, 13, 2019.", "2019"),
])
def test_an_answer_naming_what_nobody_said_is_refused(answer, made_up):
    known = Grounds.of(SAID)
    assert known.unsaid(answer) == [made_up]
    with pytest.raises(Unparseable, match=f"^names {made_up}, which nobody said$"):
        known.check("Ann and Tom talked.", answer)


@pytest.mark.parametrize("answer", [
    "Ann and Tom talked about the Smith party on Friday.",  # names in the lines
    "Tom will bring bread from Hobbs Cafe.",  # a lower-case mention grounds a capitalised name
    "Ann asked after Klaus's neighbours, the Moore family.",  # possessive and plural folded both ways
    "Tom met the Smiths at Hobbs Cafe's counter.",
    "Mr. Mueller, Mrs. Smith and Dr Lee are coming.",  # titles
    "Hi Tom, Good Morning! How Are You?",  # common words a model capitalises
    "Tom comes at 3pm. They meet at 15:00, or at 3:00.",  # a time said another way
    "The bread costs $3.50, one amazing deal.",  # no time
    "Zorblax is a word that starts a sentence.",  # a lower bound: a sentence's first word is not a name
    "Ann will talk with Tom about it tomorrow.",
    "I’m sure Tom’s bread is good, Ann.",  # curly apostrophes
    "The bread costs 2000 cents; call 555-2014.",  # numbers, not years
])
def test_an_answer_naming_only_what_was_said_passes(answer):
    known = Grounds.of(SAID)
    assert known.unsaid(answer) == []
    known.check(answer, None, "")


def test_the_town_and_the_calendar_ground_what_no_line_said(tmp_path):
    with open_run(VILLE, db=tmp_path / "t.db", llm="fake") as sim:
        ctx = sim.agent("Klaus Mueller").ctx
        known = grounds(ctx, ctx.now, ["Klaus: morning!"])
        day = ctx.clock.at(ctx.now)
        assert known.unsaid(f"Isabella Rodriguez invited Maria Lopez to Hobbs Cafe on {day:%A}.") == []
        assert known.unsaid("It is the middle of February.") == []
        assert known.unsaid("Maria met Zorbo Quist at the Blue Moon Diner.") == ["Zorbo Quist", "Blue Moon Diner"]
        # an interviewee may name the town's places, but only the people it knows of
        knows = grounds(ctx, ctx.now, ["Klaus is writing a paper with Maria Lopez."], residents=False)
        assert knows.unsaid("I saw Maria Lopez at Hobbs Cafe.") == []
        assert knows.unsaid("I saw Isabella at Hobbs Cafe.") == ["Isabella"]
        assert knows.unsaid("I saw Isabella Rodriguez at home.") == ["Isabella Rodriguez"]
        # times are the grader's business in an interview: a wrong day is a wrong answer, not a made-up name
        answers = grounds(ctx, ctx.now, ["Klaus studies."], residents=False, times=False)
        assert answers.unsaid("I was at the library on Sunday, March 10, 2017, at 10:30.") == []
        assert answers.unsaid("I was at the library in New York City.") == ["New York City"]


def _made_up_names(text: str) -> bool:
    return bool(re.search(r"Zorblax|Quux|Blue Moon|Harvest Festival", text))


@pytest.fixture(scope="module")
def liars_log(tmp_path_factory) -> pd.DataFrame:
    """A fake morning of the Ville whose every line, summary and take-away makes something up."""
    db = tmp_path_factory.mktemp("grounded") / "liar.db"
    liar = Scripted(utterance="Did you see Zorblax Quux at the Blue Moon Diner?",
                    conversation_summary="talked about the Harvest Festival on Tuesday at 10:30.",
                    conversation_takeaway=" Zorblax Quux is coming to the Harvest Festival\nNext: nothing")
    with open_run(VILLE, db=db, seed=3, llm="fake", backend=liar) as sim:
        sim.run(sim.scenario.start + pd.Timedelta(hours=24).to_pytimedelta())
    with EventStore(db, read_only=True) as store:
        return store.events()


@pytest.mark.parametrize("purpose", ["utterance", "conversation_summary", "conversation_takeaway"])
def test_made_up_answers_are_refused_asked_again_then_the_plain_answer_stands(liars_log, purpose):
    failed = liars_log[(liars_log["kind"] == ev.PARSE_FAILED)
                       & (liars_log["data"].map(lambda d: d.get("purpose") == purpose))]
    fell_back = liars_log[(liars_log["kind"] == ev.FALLBACK)
                          & (liars_log["data"].map(lambda d: d.get("purpose") == purpose))]
    assert len(fell_back) > 0 and len(failed) == 2 * len(fell_back)  # each asked twice, then the plain answer
    assert failed["data"].map(lambda d: REASON.match(d["reason"]) is not None).all()
    assert failed["data"].map(lambda d: _made_up_names(d["output"])).all()  # every raw answer is kept
    assert not fell_back["data"].map(lambda d: _made_up_names(d["value"])).any()


def test_what_was_said_and_remembered_names_nothing_made_up(liars_log):
    said = liars_log[liars_log["kind"].isin([ev.UTTERANCE, ev.CONVERSATION_END, ev.MEMORY])]
    texts = said["data"].map(lambda d: d.get("text") or d.get("summary") or "")
    assert (liars_log["kind"] == ev.UTTERANCE).sum() > 4
    assert not texts.map(_made_up_names).any()


def test_a_summary_that_falls_back_is_made_of_the_conversations_own_words(liars_log):
    """The plain summary ("X and Y talked at <place>: <what was said>") adds no word of its own but its frame."""
    frame = set(words("and talked at for a while"))
    ends = liars_log[liars_log["kind"] == ev.CONVERSATION_END]
    assert len(ends) > 0
    for _, end in ends.iterrows():
        talk = end["data"]["conversation"]
        of_it = liars_log["data"].map(lambda d: d.get("conversation") == talk)  # noqa: B023 (used at once)
        lines = liars_log[(liars_log["kind"] == ev.UTTERANCE) & of_it]
        start = liars_log[(liars_log["kind"] == ev.CONVERSATION_START) & of_it].iloc[0]
        sources = " ".join([*lines["data"].map(lambda d: d["text"]), end["agent"], end["data"]["partner"],
                            start["data"]["location"]])
        summary = end["data"]["summary"]
        said = words(summary)[:-1] if len(summary) >= MAX_LINE_CHARS else words(summary)  # cut mid-word
        assert set(said) <= set(words(sources)) | frame, summary


def test_an_interviewee_naming_someone_it_never_met_is_refused_and_answers_from_memory(tiny, tmp_path):
    liar = Scripted(interview="I had lunch with Zorbo Quist and Bob at the Blue Moon Diner.")
    with Experiment(tiny, db=tmp_path / "i.db", backend=liar) as exp:
        exp.run("+5m")  # its first memories
        answer = exp.interview("Ann", "What did you do today?")
        run_id = exp.run_id
    assert len(liar.asked) == 2  # refused, asked again with another seed, refused again
    assert liar.asked[0].seed != liar.asked[1].seed and liar.asked[0].prompt == liar.asked[1].prompt
    assert answer.startswith("I remember this: Ann ")  # what it was shown, from its memories
    with EventStore(tmp_path / "i.db", read_only=True) as store:
        log = store.events(run_id)
    rows = log[log["kind"].isin([ev.PARSE_FAILED, ev.FALLBACK, ev.INTERVIEW])
               & log["data"].map(lambda d: d.get("purpose", "interview") == "interview")]
    assert list(rows["kind"]) == [ev.PARSE_FAILED, ev.PARSE_FAILED, ev.FALLBACK, ev.INTERVIEW]
    assert rows["data"].iloc[0]["reason"] == "names Zorbo Quist, which nobody said"
    assert rows["data"].iloc[3]["answer"] == answer == rows["data"].iloc[2]["value"]


@pytest.mark.parametrize(("said", "kept"), [
    ("I serve coffee at the Cafe.", True),  # a place of the town
    ("I like the Park.", True),
    ("I live with Bob.", False),  # a resident Ann has no memory of
    ("I met Zorbo Quist.", False),
])
def test_an_interviewee_names_the_towns_places_and_only_the_people_it_knows(tiny, tmp_path, said, kept):
    with Experiment(tiny, db=tmp_path / "k.db", backend=Scripted(interview=said)) as exp:
        exp.run("+5m")
        assert (exp.interview("Ann", "What do you do?") == said) is kept
        exp.whisper("Ann", "Bob and Zorbo Quist are my neighbours.")  # now it knows them
        exp.step(15)  # it is consolidated into a memory
        assert exp.interview("Ann", "Who are your neighbours?") == said


@pytest.mark.parametrize(("said", "reply"), [
    ("[Mon 09:35] I live in Hobbs.", "I live in Hobbs."),
    ("  [Tue 7:05][Tue 07:10]  I was at the cafe.", "I was at the cafe."),
    ("I woke at [Mon 09:35] today.", "I woke at [Mon 09:35] today."),  # only a stamp in front is the prompt's
])
def test_an_interview_answer_loses_the_memory_stamp_it_copied_from_the_prompt(said, reply):
    from agentville.agents.talk.interview import own_line

    assert own_line(said, "Ann", "plain") == reply
