"""Grading interview answers against their known answers, deterministically: right, partly, wrong or does-not-know.

An answer is read for the facts its question expects (``sim.analysis.questions``):
residents by name (``naming``), places with the town's tolerant matching,
times however they are said ("10:30", "half past ten", "10.30am", "noon"),
and the key words of the expected fact (whole words, "talking" for "talk").
Every expected fact found: right; some: partly; none: wrong, or does-not-know
when the answer says so ("I don't remember") or says nothing.

Nothing an answer adds can raise its grade. Where only the expected people
or places count ("Who did you talk to today?"), each other one named is a
wrong one: an answer listing every resident is wrong unless it names more
right people than wrong ones, and never right. Words of a contrary answer
("wait" when the agent talked) make it partly at best. A **hallucination**
names a person or place the town does not have, or one of the town's that
the agent never met, heard of or knew by then (from the log): it is listed
with the grade, and keeps the answer from being right.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from agentville.sim.core.mentions import times_in as times_in  # shared with the agents
from agentville.sim.core.placenames import words

from .questions import Question, Town

RIGHT, PARTLY, WRONG, DOES_NOT_KNOW = "right", "partly", "wrong", "does-not-know"
GRADES = (RIGHT, PARTLY, WRONG, DOES_NOT_KNOW)
TIME_SLACK_MIN = 30  # a time this close to the expected one is right ("around half past ten" for 10:45)
STEM = 4  # key words match as prefixes of each other from this many letters ("plan" and "planning")
_DONT_KNOW = re.compile(r"\b(?:i\s+(?:do\s*n[o']?t|don[’']?t|can[’']?t|cannot|can not)\s+(?:really\s+)?"
                        r"(?:know|remember|recall|say)|no idea|not sure|i have no (?:memory|recollection|idea)|"
                        r"i (?:forgot|have forgotten)|i['’]ve forgotten)", re.I)


@dataclass(frozen=True)
class Grade:
    """How one answer fares: its grade, the expected facts found and missed, what it got wrong, what it made up."""
    grade: str
    found: tuple[str, ...] = ()
    missed: tuple[str, ...] = ()
    wrong: tuple[str, ...] = ()
    hallucinations: tuple[str, ...] = ()


def time_matches(expected: str, text: str) -> bool:
    """Whether ``text`` says ``expected`` (HH:MM), within ``TIME_SLACK_MIN``; without am/pm either half of the day."""
    hours, minutes = expected.split(":")
    want = int(hours) * 60 + int(minutes)
    for said, certain in times_in(text):
        candidates = [said] if certain else [said % 720, said % 720 + 720]
        if any(min(abs(c - want), 1440 - abs(c - want)) <= TIME_SLACK_MIN for c in candidates):
            return True
    return False


def says(said: list[str], phrase: str) -> bool:
    """Whether the words ``said`` hold ``phrase`` word for word (equal, or sharing a stem)."""
    wanted = words(phrase)
    return bool(wanted) and any(all(_same(said[i + j], w) for j, w in enumerate(wanted))
                                for i in range(len(said) - len(wanted) + 1))


def _same(said: str, wanted: str) -> bool:
    short, long = sorted((said, wanted), key=len)
    return said == wanted or (len(short) >= STEM and long.startswith(short))


def does_not_know(answer: str) -> bool:
    """Whether an answer says it does not know or remember (or says nothing)."""
    return not answer.strip() or _DONT_KNOW.search(answer) is not None


def grade(question: Question, answer: str, town: Town) -> Grade:
    """Grade ``answer`` to ``question`` (of ``question.agent``) against the town it was asked in."""
    named = town.names.read(answer)
    said = words(answer)
    found: list[str] = []
    missed: list[str] = []
    for person in question.people:
        (found if person in named.people else missed).append(person)
    for place in question.places:
        also = place == town.homes.get(question.agent) and any(says(said, w) for w in question.place_also)
        (found if place in named.places or also else missed).append(place)
    for time in question.times:
        (found if time_matches(time, answer) else missed).append(time)
    keys = [k for k in question.keywords if says(said, k)]
    found += keys[:question.needed]
    missed += [k for k in question.keywords if k not in keys][:max(0, question.needed - len(keys))]
    wrong = _wrong(question, named.people, named.places, named.strange_people, named.strange_places)
    wrong += [c for c in question.contrary if says(said, c)]
    made_up = hallucinations(question, answer, town)
    if not found:
        return Grade(DOES_NOT_KNOW if does_not_know(answer) and not wrong else WRONG, (), tuple(missed),
                     tuple(wrong), made_up)
    if missed or wrong or made_up:
        outweighed = question.only and len(wrong) >= len(found)
        return Grade(WRONG if outweighed else PARTLY, tuple(found), tuple(missed), tuple(wrong), made_up)
    return Grade(RIGHT, tuple(found), (), (), ())


def _wrong(question: Question, people: tuple[str, ...], places: tuple[str, ...], strange_people: tuple[str, ...],
           strange_places: tuple[str, ...]) -> list[str]:
    """Who and where else an answer names, where only the expected ones count."""
    if not question.only:
        return []
    wrong: list[str] = []
    if question.people:
        wrong += [p for p in people if p not in question.people and p != question.agent] + list(strange_people)
    if question.places:
        wrong += [p for p in places if p not in question.places] + list(strange_places)
    return wrong


def hallucinations(question: Question, answer: str, town: Town) -> tuple[str, ...]:
    """The people and places ``answer`` names that the town lacks or the agent never knew (those the question
    itself names aside)."""
    named, asked = town.names.read(answer), town.names.read(question.text)
    people = town.known_people.get(question.agent, frozenset()) | {question.agent, *asked.people}
    places = town.known_places.get(question.agent, frozenset()) | set(asked.places)
    return (*named.strange_people, *named.strange_places, *(p for p in named.people if p not in people),
            *(p for p in named.places if p not in places))
