"""A generative agent: perceive, remember, plan, act, react, talk, reflect.

One simpy process per agent runs ``live``: it plans each day when the agent
wakes up (the plan draws on what it remembers), works through the schedule
an hour at a time in 5-15 minute steps, notices what is around it whenever it
starts a step, may talk to someone it sees, revises the rest of its day
after a conversation or an inner-voice thought, reflects when enough has
happened, and sleeps until the next wake-up. Nothing polls: every wake-up of
the process is a step ending, an answer arriving or a conversation starting.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import simpy

from agentville.sim.scenario import CognitionSpec, PersonaSpec
from agentville.sim.world import Location

from . import planning
from .asking import LIST_END, Unparseable, ask
from .dialogue import Conversation, clean_line, converse
from .memory import MemoryNode, MemoryStream, RetrievalWeights, rate_importance
from .perception import Observation, Perception
from .planning import Block, is_sleep
from .reflection import reflect
from .templates import copied_from_example, render

if TYPE_CHECKING:
    from agentville.sim.context import AgentContext as Simulation

REACTIONS = ("talk", "wait", "carry on")
REACTION_MEMO_S = 30 * 60  # do not reconsider the same person more often than this
WAIT_MINUTES = (1, 10)
MIN_SLEEP_S = 4 * 3600
REACTIVE_STEP_MINUTES = 15  # with planning off, how far ahead an agent decides
AWAKE, ACTING, TALKING, SLEEPING = "awake", "acting", "talking", "sleeping"


@dataclass
class DayPlan:
    date: dt.date
    midnight: float
    wake: float
    strokes: list[str]
    blocks: list[Block]
    bedtime: float


class GenerativeAgent:
    def __init__(self, sim: Simulation, persona: PersonaSpec):
        self.sim, self.persona, self.name = sim, persona, persona.name
        self.cognition: CognitionSpec = sim.cognition
        c = self.cognition
        self.memory = MemoryStream(RetrievalWeights(c.recency_weight, c.importance_weight, c.relevance_weight))
        self.perception = Perception(self.name, bandwidth=c.attention_bandwidth)
        self.home = sim.world.resolve(persona.home)
        self.state = AWAKE
        self.activity = "waking up"
        self.previous_activity = self.activity  # what it was doing before a conversation pulled it away
        self.action_ends = 0.0
        self.plan: DayPlan | None = None
        self.conversation: Conversation | None = None
        self.last_talked: dict[str, float] = {}
        self._considered: dict[str, float] = {}
        self._poke: simpy.Event | None = None
        self._replan: str | None = None
        self._ratings: dict[str, int] = {}
        self._where: dict[str, Location] = {}
        self._reflected_upto = -1
        self.known_places = {self.home.place} | {sim.world.resolve(s.place, self.home).place for s in persona.routine}
        self.learn_places(" ".join([persona.learned, persona.currently, *persona.memories]), log=False)

    # -- who it is -------------------------------------------------------------
    @property
    def location(self) -> Location:
        """Where the agent is (the town owns it; home until the agent is placed)."""
        return self.sim.town.locations.get(self.name, self.home)

    @property
    def summary(self) -> str:
        """Who the agent is, in one line (the person rating its memories)."""
        return f"{self.name}, {self.persona.age}, {self.persona.traits}"

    @functools.cached_property
    def persona_text(self) -> str:
        """The persona block every prompt starts with (first, so prompts of one agent share a prefix)."""
        p = self.persona
        return render("persona", name=p.name, age=p.age, traits=p.traits, learned=p.learned.strip(),
                      currently=p.currently.strip(), lifestyle=p.lifestyle.strip() or "ordinary").strip()

    # -- memory ------------------------------------------------------------------
    def remember(self, kind: str, text: str, *, subject: str | None = None, evidence: tuple[int, ...] = (),
                 depth: int = 0) -> Iterator[simpy.Event]:
        """A simpy sub-process: rate (once per distinct text), embed and store one memory, and log it."""
        sim = self.sim
        importance = self._ratings.get(text)
        if importance is None:
            importance = yield from rate_importance(sim.llm, self.name, self.summary, text)
            self._ratings[text] = importance
        node: MemoryNode = self.memory.add(kind, text, now=sim.env.now, importance=importance,
                                           embedding=sim.llm.embed([text])[0], subject=subject,
                                           evidence=evidence, depth=depth)
        sim.log("memory", self.name, id=node.id, kind=kind, text=text, importance=node.importance,
                subject=subject, evidence=list(node.evidence), depth=node.depth)
        return node

    def recall(self, query: str, *, k: int | None = None, touch: bool = True) -> list[MemoryNode]:
        """The memories that bear on ``query``; with retrieval off, simply the most recent ones."""
        k = k or self.cognition.retrieval_k
        if not self.cognition.retrieval:
            return self.memory.recent(k)[::-1]
        return self.memory.retrieve(self.sim.llm.embed([query])[0], now=self.sim.env.now, k=k, touch=touch)

    def learn_places(self, text: str, *, log: bool = True) -> None:
        """Places named in ``text`` become known (heard of in a conversation, a thought, a memory)."""
        for place in self.sim.world.places_named_in(text):
            if place not in self.known_places:
                self.known_places.add(place)
                if log and self.sim.running:
                    self.sim.log("learned_place", self.name, place=place)

    def wants_to_reflect(self) -> bool:
        return (self.cognition.reflection
                and self.memory.importance_since(self._reflected_upto) >= self.cognition.reflection_threshold)

    # -- what others can do to it ------------------------------------------------
    def whisper(self, text: str) -> None:
        """An inner-voice line: the agent takes it as its own thought, remembers it and rethinks its day."""
        self.learn_places(text)
        self.sim.env.process(self.remember("thought", text))
        self.ask_to_replan(f"{self.name} thought: {text}")

    def ask_to_replan(self, reason: str) -> None:
        self._replan = reason

    def available(self) -> bool:
        """Can someone start a conversation with it now?"""
        return self.state == ACTING and self.conversation is None and self._poke is not None

    def join(self, conversation: Conversation) -> None:
        self.conversation = conversation
        self.previous_activity = self.activity
        self.state = TALKING
        other = conversation.partner if conversation.starter == self.name else conversation.starter
        self.sim.town.start_action(self.name, f"talking with {other}", f"{self.name} is talking with {other}")
        if self._poke is not None and not self._poke.triggered:
            self._poke.succeed()

    def leave(self, conversation: Conversation) -> None:
        self.conversation = None
        self.state = AWAKE

    def interview(self, question: str) -> str:
        """Answer ``question`` from memory, without changing the agent (no memory touched, no seed used)."""
        sim = self.sim
        if self.cognition.retrieval:
            memories = self.memory.retrieve(sim.llm.embed([question])[0], now=sim.env.now,
                                            k=self.cognition.retrieval_k, touch=False)
        else:
            memories = self.memory.recent(self.cognition.retrieval_k)[::-1]
        prompt = render("interview", persona=self.persona_text, name=self.name, question=question,
                        memories="\n".join(f"- {m.text}" for m in memories) or "- nothing yet")
        plain = f"I'd rather not say much about that. Lately I've been {self.activity}."
        answer = sim.llm.text_now(prompt, purpose="interview", agent=self.name, max_tokens=96, stop=("\n",),
                                  seed_key=f"{question}\x1f{len(self.memory)}\x1f{sim.env.now}", default=plain)
        try:
            answer = clean_line(answer, self.name, "Interviewer")
        except Unparseable:
            answer = plain
        if sim.running:
            sim.log("interview", self.name, question=question, answer=answer, memories=[m.id for m in memories])
        return answer

    # -- the life ------------------------------------------------------------------
    def live(self) -> Iterator[simpy.Event]:
        sim = self.sim
        sim.town.place(self.name, self.home)
        for text in self.persona.memories:
            yield from self.remember("event", text)
        if not self.cognition.planning:
            yield from self.live_moment_to_moment()
            return
        day = sim.now.date()
        wake = yield from self.choose_wake(day)
        wake = max(wake, sim.env.now)
        while True:
            if wake > sim.env.now:
                yield from self.sleep_until(wake)
            yield from self.plan_day(day, wake)
            yield from self.live_day()
            day = day + dt.timedelta(days=1)
            wake = yield from self.choose_wake(day)
            wake = max(wake, sim.env.now + MIN_SLEEP_S)

    def choose_wake(self, day: dt.date) -> Iterator[simpy.Event]:
        """A simpy sub-process: the simulated second the agent wakes up on ``day``."""
        habit = re.search(r"wakes? up (?:at |around |about )?(\d{1,2})", self.persona.lifestyle)
        usual = int(habit.group(1)) if habit and 4 <= int(habit.group(1)) <= 11 else 7
        # Within an hour of the habit: small models pick hours almost at random otherwise.
        hours = tuple(str(h) for h in range(max(4, usual - 1), min(11, usual + 1) + 1))
        hour = yield self.sim.llm.choice(
            render("wake_up", persona=self.persona_text, name=self.name, day=f"{day:%A, %B %d}",
                   first=hours[0], last=hours[-1]),
            hours, purpose="wake_up", agent=self.name, default=str(usual))
        return self.midnight(day) + int(hour) * 3600

    def midnight(self, day: dt.date) -> float:
        return self.sim.clock.seconds(dt.datetime.combine(day, dt.time()))

    def plan_day(self, day: dt.date, wake: float) -> Iterator[simpy.Event]:
        """A simpy sub-process: day plan, then hourly schedule, each drawing on memories."""
        sim = self.sim
        midnight, at = self.midnight(day), sim.clock.at(wake)
        date = f"{day:%A, %B %d}"
        remembered = self.recall(f"{self.name}'s plans and commitments for {date}")
        routine = sorted(self.persona.routine, key=lambda s: (s.minute_of_day - at.hour * 60) % 1440)
        usual = "\n".join(f"{i}. {s.activity} at {s.at}" for i, s in enumerate(routine, 1)) or (
            self.persona.lifestyle or "an ordinary day")
        plain = [f"{s.activity} at {s.at}" for s in routine] + self.persona.daily_requirements
        for filler in ("wake up and get ready", "go about the day", "relax in the evening"):
            if len(plain) < 3:
                plain.append(filler)
        strokes = yield from ask(
            sim, self.name, render("day_plan", persona=self.persona_text, name=self.name, date=date,
                                   wake=f"{at:%H:%M}", usual=usual,
                                   remembered="\n".join(f"- {m.text}" for m in remembered) or "- nothing special"),
            planning.parse_strokes, check=not_copied("day_plan"), purpose="day_plan", max_tokens=120, stop=LIST_END, prefix="1.",
            default=" " + "\n".join(f"{i}. {s}" if i > 1 else s for i, s in enumerate(plain[:8], 1)))
        bedtime_default = midnight + 23 * 3600

        def parse(text: str) -> tuple[list[Block], float]:
            return planning.schedule_blocks(planning.parse_schedule(text, midnight, after=wake), bedtime_default)

        # The first line is written for the model (the habitual start of the
        # day), which keeps a small model on the format and the persona's habits.
        lines = (planning.routine_entries(self.persona.routine, at.hour * 60 + at.minute).splitlines()
                 if self.persona.routine else ["12:00 going about the day", "23:00 sleeping"])
        first = f"{at:%H:%M} {lines[0].split(' ', 1)[1] if lines[0][:5] == f'{at:%H:%M}' else 'waking up'}"
        rest = lines[1:] if lines[0][:5] == f"{at:%H:%M}" else lines
        blocks, bedtime = yield from ask(
            sim, self.name, render("schedule", persona=self.persona_text, name=self.name, plan="; ".join(strokes),
                                   usual="\n".join(f"{s.at} {s.activity}" for s in routine) or "(none)",
                                   first=first),
            parse, purpose="schedule", max_tokens=160, stop=LIST_END, prefix=first, joiner="\n",
            default="\n".join(rest))
        if blocks[0].start > wake:
            blocks.insert(0, Block(wake, blocks[0].start, "waking up and getting ready"))
        self.plan = DayPlan(day, midnight, wake, strokes, blocks, bedtime)
        self._replan = None  # the new plan already takes everything remembered into account
        sim.log("plan", self.name, level="day", date=day.isoformat(), wake=at.isoformat(timespec="minutes"),
                strokes=strokes, schedule=self._schedule_rows(blocks),
                bedtime=sim.clock.at(bedtime).isoformat(timespec="minutes"))
        yield from self.remember("plan", f"{self.name}'s plan for {date}: {'; '.join(strokes)}")

    def _schedule_rows(self, blocks: list[Block]) -> list[dict[str, str]]:
        at = self.sim.clock.at
        return [{"start": f"{at(b.start):%H:%M}", "end": f"{at(b.end):%H:%M}", "activity": b.activity}
                for b in blocks]

    def live_day(self) -> Iterator[simpy.Event]:
        """Work through the schedule until bedtime, an hour's chunk at a time."""
        sim, plan = self.sim, self.plan
        assert plan is not None
        while sim.env.now < self.plan.bedtime:
            if self.wants_to_reflect():
                yield from self.reflect()
            if self._replan:
                yield from self.revise(self._replan)
            plan = self.plan
            now = sim.env.now
            if now >= plan.bedtime:
                break
            block = planning.block_at(plan.blocks, now) or Block(now, min(
                [b.start for b in plan.blocks if b.start > now] + [plan.bedtime]), "taking a short break")
            chunk_end = min(block.end, now + planning.CHUNK_MINUTES * 60, plan.bedtime)
            minutes = int((chunk_end - now) // 60)
            if minutes < 1:
                yield sim.env.timeout(chunk_end - now)
                continue
            where = yield from self.choose_location(block.activity)
            steps = yield from self.decompose(block.activity, minutes, where)
            for activity, step_minutes in steps:
                interrupted = yield from self.act(activity, step_minutes, where)
                if interrupted or self._replan or self.wants_to_reflect():
                    break

    def live_moment_to_moment(self) -> Iterator[simpy.Event]:
        """The no-planning ablation: every quarter of an hour, decide what to do next."""
        sim = self.sim
        while True:
            if self.wants_to_reflect():
                yield from self.reflect()
            now = sim.now
            recent = self.recall(f"what {self.name} should do at {now:%H:%M}", k=5)
            plain = self._routine_activity(now)
            activity = yield from ask(
                sim, self.name, render("next_action", persona=self.persona_text, name=self.name,
                                       time=now.strftime("%A %H:%M"), place=self.location.place,
                                       memories="\n".join(f"- {m.text}" for m in recent) or "- nothing yet"),
                _activity, purpose="next_action", max_tokens=24, stop=("\n",), default=f" {plain}")
            if is_sleep(activity):
                yield from self.sleep_until(sim.env.now + 3600)
                continue
            where = yield from self.choose_location(activity)
            yield from self.act(activity, REACTIVE_STEP_MINUTES, where)

    def _routine_activity(self, now: dt.datetime) -> str:
        minute = now.hour * 60 + now.minute
        steps = sorted(self.persona.routine, key=lambda s: s.minute_of_day)
        current = [s for s in steps if s.minute_of_day <= minute] or steps[-1:]
        return current[-1].activity if current else "going about the day"

    # -- planning pieces -----------------------------------------------------------
    def revise(self, reason: str) -> Iterator[simpy.Event]:
        """Re-plan the rest of today after something happened (keeps what is past)."""
        sim, plan = self.sim, self.plan
        self._replan = None
        if plan is None:
            return
        now = sim.env.now
        past = [b for b in plan.blocks if b.end <= now]
        rest = [b for b in plan.blocks if b.end > now]
        if not rest:
            return

        def parse(text: str) -> tuple[list[Block], float]:
            entries = planning.parse_schedule(text, plan.midnight, after=now - 60, minimum=1)
            entries = [(max(at, now), activity) for at, activity in entries]
            blocks, bedtime = planning.schedule_blocks(entries, plan.bedtime)
            return blocks, bedtime if any(is_sleep(a) for _, a in entries) else plan.bedtime

        # The model continues after the current activity, written for it, so a
        # small model keeps what still stands and changes only what must.
        current = [Block(max(b.start, now), b.end, b.activity) for b in rest]
        lines = planning.format_schedule(current, sim.clock.at, plan.bedtime).splitlines()
        blocks, bedtime = yield from ask(
            sim, self.name, render("revise", persona=self.persona_text, name=self.name,
                                   schedule=planning.format_schedule(plan.blocks, sim.clock.at, plan.bedtime),
                                   time=f"{sim.now:%H:%M}", event=reason, first=lines[0]),
            parse, purpose="revise_schedule", max_tokens=120, stop=LIST_END, prefix=lines[0], joiner="\n",
            default="\n".join(lines[1:]))
        blocks = [b for b in blocks if b.end > b.start]
        if not blocks:
            return
        self.plan = DayPlan(plan.date, plan.midnight, plan.wake, plan.strokes, past + blocks, max(bedtime, now))
        sim.log("plan", self.name, level="revision", reason=reason, schedule=self._schedule_rows(blocks),
                bedtime=sim.clock.at(self.plan.bedtime).isoformat(timespec="minutes"))

    def decompose(self, activity: str, minutes: int, where: Location) -> Iterator[simpy.Event]:
        """A simpy sub-process: ``minutes`` of ``activity`` as 5-15 minute steps (exactly ``minutes`` in all)."""
        if minutes <= planning.STEP_MINUTES[1]:
            return [(activity, minutes)]
        sim = self.sim
        steps = yield from ask(
            sim, self.name, render("decompose", name=self.name, activity=activity, time=sim.now.strftime("%H:%M"),
                                   minutes=minutes, place=f"{where.place}, {where.area}"),
            lambda text: planning.fit_durations(planning.parse_steps(text), minutes, activity),
            check=not_copied("decompose"),
            purpose="decompose", max_tokens=96, stop=LIST_END, prefix="-", default=planning.default_steps(activity, minutes))
        sim.log("plan", self.name, level="steps", activity=activity, minutes=minutes,
                steps=[{"activity": a, "minutes": m} for a, m in steps])
        return steps

    def choose_location(self, activity: str) -> Iterator[simpy.Event]:
        """Walk the place tree (place, area, object) among the places the agent knows.

        Habits and plain words come first: an activity from the persona's
        routine happens where it always does, and one that names a known
        place, area or object happens there; the model chooses the rest.
        Choices are remembered per activity, so a repeated activity costs nothing.
        """
        key = activity.lower()
        if key in self._where:
            return self._where[key]
        sim, world = self.sim, self.sim.world
        habit = next((s for s in self.persona.routine if s.activity.lower() == key), None)
        if habit is not None:
            where = world.resolve(habit.place, self.home)
            self._where[key] = where
            return where
        here = str(self.location)
        named = [p for p in self.known_places if p.lower() in key]
        if named:
            place = max(named, key=len)
        else:
            places = sorted(self.known_places)
            usual = "; ".join(f"{s.activity} at {world.resolve(s.place, self.home).place}"
                              for s in self.persona.routine[:8])
            place = yield sim.llm.choice(
                render("location", name=self.name, here=here, activity=activity, what="place",
                       usual=f"Usually, {self.name} goes {usual}." if usual else "",
                       choices_label=f"Places {self.name} knows", choices=", ".join(places)),
                places, purpose="location_place", agent=self.name, default=self.location.place)
        owners = sim.world.private_areas
        areas = [a for a in world.places[place].areas if self.name in owners.get((place, a.name), {self.name})]
        areas = areas or world.places[place].areas
        area = yield from self._pick([a.name for a in areas], key, f"part of {place}", f"Parts of {place}",
                                     activity, "location_area",
                                     self.home.area if place == self.home.place else areas[0].name)
        objects = [o.name for o in next(a for a in areas if a.name == area).objects]
        obj = (yield from self._pick(objects, key, "thing to use", f"Things in the {area} of {place}", activity,
                                     "location_object", objects[0])) if objects else None
        where = Location(place, area, obj)
        self._where[key] = where
        return where

    def _pick(self, options: list[str], key: str, what: str, label: str, activity: str, purpose: str,
              default: str) -> Iterator[simpy.Event]:
        """One level of the place tree: the only option, the one the activity names, or the model's choice."""
        if len(options) == 1:
            return options[0]
        named = [o for o in options if o.lower() in key]
        if named:
            return max(named, key=len)
        answer = yield self.sim.llm.choice(
            render("location", name=self.name, here=str(self.location), activity=activity, what=what, usual="",
                   choices_label=label, choices=", ".join(options)),
            options, purpose=purpose, agent=self.name, default=default if default in options else options[0])
        return answer

    # -- acting ------------------------------------------------------------------------
    def act(self, activity: str, minutes: float, where: Location) -> Iterator[simpy.Event]:
        """Do one step: go there, start it, look around, maybe react; True if a conversation cut it short."""
        sim = self.sim
        end = sim.env.now + minutes * 60
        yield from self.go(where)
        self.activity = self.previous_activity = activity
        sim.town.start_action(self.name, activity, f"{self.name} is {activity}")
        if where.object:
            sim.town.set_object(where, f"in use by {self.name}: {activity}", self.name)
        observations = self.perception.notice(sim, where)
        for observation in observations:
            yield from self.remember("event", observation.text, subject=observation.subject)
        if (yield from self.react(observations)):
            return True
        return (yield from self.pause(max(end - sim.env.now, 60.0)))

    def go(self, where: Location) -> Iterator[simpy.Event]:
        sim = self.sim
        if self.location.object and self.location != where:
            sim.town.set_object(self.location, None, self.name)
        walking = where.area_key != self.location.area_key
        if walking:
            self.state = AWAKE
        yield from sim.town.walk(self.name, where)
        if walking:
            self.known_places.add(where.place)

    def pause(self, seconds: float) -> Iterator[simpy.Event]:
        """Carry on with the current step for ``seconds``; True if someone started a conversation meanwhile."""
        sim = self.sim
        self.state, self.action_ends = ACTING, sim.env.now + seconds
        self._poke = sim.env.event()
        yield sim.env.any_of([sim.env.timeout(seconds), self._poke])
        self._poke = None
        if self.conversation is None:
            self.state = AWAKE
            return False
        conversation = self.conversation
        yield conversation.done
        return True

    def react(self, observations: list[Observation]) -> Iterator[simpy.Event]:
        """Decide, for each person just seen, whether to talk, wait or carry on; True if a conversation happened."""
        sim = self.sim
        for observation in observations:
            other = sim.residents.get(observation.subject)
            if other is None or not self.may_approach(other):
                continue
            if sim.env.now - self._considered.get(other.name, -REACTION_MEMO_S) < REACTION_MEMO_S:
                continue
            self._considered[other.name] = sim.env.now
            memories = self.recall(other.name, k=3)
            decision = yield sim.llm.choice(
                render("reaction", persona=self.persona_text, name=self.name, time=sim.now.strftime("%A %H:%M"),
                       activity=self.activity, place=self.location.place, other=other.name,
                       other_activity=other.activity,
                       memories="\n".join(f"- {m.text}" for m in memories) or "- nothing yet"),
                REACTIONS, purpose="reaction", agent=self.name, default="carry on")
            sim.log("reaction", self.name, other=other.name, decision=decision)
            if decision == "talk" and self.may_approach(other):
                yield from converse(self, other)
                return True
            if decision == "wait":
                low, high = WAIT_MINUTES
                minutes = min(high, max(low, (other.action_ends - sim.env.now) / 60))
                self.activity = f"waiting for {other.name} to finish"
                sim.town.start_action(self.name, self.activity, f"{self.name} is {self.activity}")
                if (yield from self.pause(minutes * 60)):
                    return True
                if self.may_approach(other):
                    yield from converse(self, other)
                    return True
        return False

    def may_approach(self, other: GenerativeAgent) -> bool:
        sim = self.sim
        cooldown = self.cognition.conversation_cooldown_minutes * 60
        return (other is not self and other.available() and self.conversation is None
                and other.location.area_key == self.location.area_key
                and sim.env.now - self.last_talked.get(other.name, -cooldown) >= cooldown)

    def sleep_until(self, moment: float) -> Iterator[simpy.Event]:
        sim = self.sim
        beds = [o for o in sim.world.objects_in(*self.home.area_key) if "bed" in o.object.lower().split()]
        yield from self.go(beds[0] if beds else self.home)
        self.activity = self.previous_activity = "sleeping"
        self.state = SLEEPING
        sim.town.start_action(self.name, "sleeping", f"{self.name} is asleep")
        if self.location.object:
            sim.town.set_object(self.location, f"in use by {self.name}: sleeping", self.name)
        yield sim.env.timeout(max(0.0, moment - sim.env.now))
        self.state = AWAKE

    def reflect(self) -> Iterator[simpy.Event]:
        upto = len(self.memory) - 1
        yield from reflect(self)
        self._reflected_upto = max(upto, len(self.memory) - 1)


def not_copied(template_name: str):
    """A check refusing answers whose items mostly repeat the template's worked example."""
    def check(items) -> None:
        if copied_from_example([i if isinstance(i, str) else i[0] for i in items], template_name):
            raise Unparseable("the answer repeats the prompt's example")
    return check


def _activity(text: str) -> str:
    activity = planning.clean_activity(text.strip().splitlines()[0] if text.strip() else "")
    if len(activity) < 3:
        raise Unparseable("no activity")
    return activity
