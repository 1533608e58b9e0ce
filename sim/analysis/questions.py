"""Interview questions with known answers, made from a run's own log and personas (the paper's five categories).

For each agent, up to a moment ``at``: self-knowledge (its persona), memory
(whom it talked to today, where it was at a half hour, what a partner told it,
when it talked to someone), plans (what it will be doing at a later half hour,
from the plan in force), reactions (a person it really met: what would it
do? against the decision it logged) and reflections (what it has learned
about someone it talked to: its thoughts and take-aways naming them). Every
question carries its expected answer as facts a grader can check
(``sim.analysis.grading``: people, places, times, key words) and the seqs of
the log rows that hold them. Which questions are asked is sampled with a
generator seeded from the run's seed, the agent and the category (sha256,
never Python's ``hash``), so the same log and seed give the same questions.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any, TypeVar

from agentville.sim.core.placenames import words
from agentville.sim.scenario.stored import stored_scenario
from agentville.sim.store.eventstore import EventStore

from .diaries import Diaries, Diary, read_diaries
from .naming import TownNames

SELF, MEMORY, PLANS, REACTIONS, REFLECTIONS = "self-knowledge", "memory", "plans", "reactions", "reflections"
CATEGORIES = (SELF, MEMORY, PLANS, REACTIONS, REFLECTIONS)
PER_KIND = 2  # questions of one kind sampled per agent (where were you, what did X tell you, ...)
KEY_WORDS = 6  # key words kept of an expected fact
HALF_HOUR = 30 * 60
DECISIONS = {"talk": ("talk", "chat", "greet", "say hello", "say hi", "conversation", "speak", "ask"),
             "wait": ("wait",),
             "carry on": ("carry on", "continue", "keep", "go on", "ignore", "finish")}
HOME_WORDS = ("home", "my room", "my apartment", "my place", "my house", "my bedroom")
_DULL = frozenset("""about after again also always because been before being could does doing during each every from
going have having here into just keep like made make means mind more most much only other over said same some still
such than that their them then there these they thing think this those told very want wants what when where which
while will with would your is are was were the and for getting started wrapping know knew good nice great
really yeah thank thanks well okay sure""".split())
T = TypeVar("T")


@dataclass(frozen=True)
class Question:
    """One interview question, its expected answer in words and as checkable facts, and the log rows behind it.

    A right answer names every one of ``people``, ``places`` (or one of ``place_also`` for them: "home") and
    ``times``, and at least ``needed`` of ``keywords``; with ``only``, naming anyone or anywhere else is wrong.
    ``contrary``: key words of a wrong answer ("wait" when it talked).
    """
    agent: str
    category: str
    text: str
    answer: str
    people: tuple[str, ...] = ()
    places: tuple[str, ...] = ()
    place_also: tuple[str, ...] = ()
    times: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    needed: int = 0
    contrary: tuple[str, ...] = ()
    only: bool = False
    evidence: tuple[int, ...] = ()


@dataclass(frozen=True)
class Town:
    """What the grader reads answers against: the town's names, and whom and where each agent knew."""
    names: TownNames
    known_people: dict[str, frozenset[str]]
    known_places: dict[str, frozenset[str]]
    homes: dict[str, str]


@dataclass(frozen=True)
class Quiz:
    """Every agent's questions, in a fixed order, and the town to grade the answers against."""
    questions: dict[str, tuple[Question, ...]]
    town: Town


def key_words(text: str, dropped: AbstractSet[str] = frozenset()) -> tuple[str, ...]:
    """The telling words of a fact, in order, without repeats: no short or common words, none of ``dropped``
    (``name_words`` of the town's names)."""
    found: dict[str, None] = {}
    for word in words(text):
        if len(word) >= 4 and word not in _DULL and word not in dropped and not word.isdigit():
            found.setdefault(word, None)
    return tuple(found)[:KEY_WORDS]


def _fact(agent: str, category: str, text: str, answer: str, evidence: Sequence[int], leave_out: AbstractSet[str],
          **facts: Any) -> Question:
    """A question whose answer is key words of ``answer``: half of them (at least one) make it right."""
    keywords = key_words(answer, leave_out)
    return Question(agent, category, text, answer, keywords=keywords, needed=max(1, (len(keywords) + 1) // 2),
                    evidence=tuple(evidence), **facts)


def sampler(seed: int, agent: str, category: str) -> random.Random:
    """A generator for one agent's questions of one category: the same for the same seed, whatever else is asked."""
    digest = hashlib.sha256(f"{seed}/{agent}/{category}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _some(rng: random.Random, items: Sequence[T], k: int = PER_KIND) -> list[T]:
    return rng.sample(list(items), min(k, len(items)))


def _hhmm(moment: dt.datetime) -> str:
    return f"{moment:%H:%M}"


def self_knowledge(diary: Diary, diaries: Diaries) -> list[Question]:
    persona, name, home = diary.persona, diary.name, diaries.world.resolve(diary.persona.home).place
    asked = [Question(name, SELF, "What is your name?", name, people=(name,)),
             Question(name, SELF, "How old are you?", str(persona.age), keywords=(str(persona.age),), needed=1),
             Question(name, SELF, "Where do you live?", home, places=(home,)),  # "at home" says nothing here
             _fact(name, SELF, "How would you describe your personality?", persona.traits, (), frozenset())]
    if persona.learned:
        first = persona.learned.split(". ")[0]
        asked.append(_fact(name, SELF, "What do you do?", first, (), diaries.resident_words))
    return asked


def memory(diary: Diary, diaries: Diaries, rng: random.Random) -> list[Question]:
    name, midnight = diary.name, _midnight(diaries)
    talks = [t for t in diary.talks if t.since >= midnight]
    asked = []
    if talks:
        partners = tuple(sorted({t.partner for t in talks}))
        asked.append(Question(name, MEMORY, "Who did you talk to today?", ", ".join(partners), people=partners,
                              only=True, evidence=tuple(t.seq for t in talks)))
    home = diaries.world.resolve(diary.persona.home).place
    moments = [(s, t) for s in diary.stays for t in _half_hours(diaries, max(s.since, midnight), s.until or diaries.at)]
    for stay, t in _some(rng, moments):
        place = stay.where.place
        asked.append(Question(name, MEMORY, f"Where were you at {_hhmm(diaries.clock(t))}?", place, places=(place,),
                              place_also=HOME_WORDS if place == home else (), only=True, evidence=(stay.seq,)))
    told = [t for t in talks if t.heard or _takeaways(diary, t.conversation)]
    for talk in _some(rng, told):
        heard = _takeaways(diary, talk.conversation) or [(seq, text) for seq, text in talk.heard]
        answer = " ".join(text.split(": ", 1)[-1] for _, text in heard)
        asked.append(_fact(name, MEMORY, f"What did {talk.partner} tell you?", answer, [s for s, _ in heard],
                           diaries.resident_words))
    for talk in _some(rng, talks, 1):
        when = _hhmm(diaries.clock(talk.since))
        asked.append(Question(name, MEMORY, f"When did you talk to {talk.partner} today?", when, times=(when,),
                              evidence=(talk.seq,)))
    return asked


def plans(diary: Diary, diaries: Diaries, rng: random.Random) -> list[Question]:
    if not diary.plans:
        return []
    plan = diary.plans[-1]
    now = diaries.clock(diaries.at)
    if plan.data.get("date", f"{diaries.clock(plan.sim_time):%Y-%m-%d}") != f"{now:%Y-%m-%d}":
        return []  # asleep before today's plan: yesterday's is not what it will be doing
    later = []
    for block in plan.data.get("schedule", []):
        for minute in range(-(-_minute(block["start"]) // 30) * 30, _minute(block["end"]), 30):  # its half hours
            if minute > now.hour * 60 + now.minute:
                later.append((f"{minute // 60:02d}:{minute % 60:02d}", block["activity"]))
    return [_fact(diary.name, PLANS, f"What will you be doing at {when}?", activity, [plan.seq],
                  diaries.resident_words) for when, activity in _some(rng, later)]


def reactions(diary: Diary, diaries: Diaries, rng: random.Random) -> list[Question]:
    asked = []
    for row in _some(rng, diary.reactions):
        data = row.data
        doing = f" while you are {data['activity']}" if data["activity"] else ""
        text = (f"At {_hhmm(diaries.clock(row.sim_time))} you see {data['other']} at {data['place']}{doing}. "
                "What would you do?")
        contrary = tuple(w for d, ws in DECISIONS.items() if d != data["decision"] for w in ws)
        asked.append(Question(diary.name, REACTIONS, text, data["decision"], keywords=DECISIONS[data["decision"]],
                              needed=1, contrary=contrary, evidence=(row.seq,)))
    return asked


def reflections(diary: Diary, diaries: Diaries, rng: random.Random) -> list[Question]:
    asked = []
    for other in _some(rng, sorted({t.partner for t in diary.talks})):
        about = [r for r in diary.memories if r.data["kind"] in ("thought", "chat")
                 and (r.data.get("subject") == other or other in r.data["text"])]
        thoughts = [r for r in about if r.data["kind"] == "thought"] or about
        if thoughts:
            answer = " ".join(r.data["text"].split(": ", 1)[-1] for r in thoughts[-3:])
            asked.append(_fact(diary.name, REFLECTIONS, f"What have you learned about {other}?", answer,
                               [r.seq for r in thoughts[-3:]], diaries.resident_words))
    return asked


def run_quiz(store: EventStore, run_id: str | None = None, at: dt.datetime | None = None,
             seed: int | None = None) -> Quiz:
    """The questions of a stored run (the newest when None) up to ``at``, sampled with ``seed`` (the run's)."""
    run = store.run(run_id)
    diaries = read_diaries(store, run, stored_scenario(run).scenario, at)
    return quiz(diaries, run["seed"] if seed is None else seed)


def quiz(diaries: Diaries, seed: int) -> Quiz:
    """Every agent's questions up to the diaries' moment, sampled with ``seed`` (the run's, or another)."""
    questions = {}
    for name in sorted(diaries.diaries):
        diary = diaries.diaries[name]
        asked = self_knowledge(diary, diaries)
        for category, make in ((MEMORY, memory), (PLANS, plans), (REACTIONS, reactions), (REFLECTIONS, reflections)):
            asked += make(diary, diaries, sampler(seed, name, category))
        questions[name] = tuple(x for x in asked if x.people or x.places or x.times or x.keywords)  # checkable
    return Quiz(questions, town(diaries))


def town(diaries: Diaries) -> Town:
    world = diaries.world
    texts = [text for d in diaries.diaries.values()
             for text in (d.persona.learned, d.persona.currently, d.persona.lifestyle, d.persona.traits,
                          *d.persona.memories, *(r.data["text"] for r in d.memories))]
    names = TownNames(world.residents, {p.name: p.aliases for p in world.places.values()}, texts)
    return Town(names, {n: frozenset(d.known_people) for n, d in diaries.diaries.items()},
                {n: frozenset(d.known_places) for n, d in diaries.diaries.items()},
                {n: world.resolve(d.persona.home).place for n, d in diaries.diaries.items()})


def _takeaways(diary: Diary, conversation: str) -> list[tuple[int, str]]:
    """What the agent took from a conversation: its chat memories of it that say what the other told it."""
    return [(r.seq, r.data["text"]) for r in diary.memories
            if r.data["kind"] == "chat" and r.data.get("source") == conversation and " told " in r.data["text"]]


def _midnight(diaries: Diaries) -> float:
    now = diaries.clock(diaries.at)
    return diaries.at - (now - now.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()


def _half_hours(diaries: Diaries, since: float, until: float) -> list[float]:
    """The clock's half hours strictly inside a stay (not a place it was only arriving at or leaving)."""
    clock = diaries.clock(since)
    first = since + HALF_HOUR - (clock.minute * 60 + clock.second + clock.microsecond / 1e6) % HALF_HOUR
    count = max(0, int((until - first) // HALF_HOUR) + 1)
    return [t for t in (first + i * HALF_HOUR for i in range(count)) if t < until]


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)
