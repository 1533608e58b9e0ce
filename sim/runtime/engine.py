"""The simulation: a simpy environment hosting one process per agent.

``Simulation`` is the runtime. It owns the simpy environment and the clock,
the run's lifecycle (start, advance, finish) and the schedule of
interventions, and keeps the registry of agents. The state it hosts has one
owner each: the town (``Town``: locations, occupancy, actions, objects), the
event log (``EventLog``: sequence numbers and the writer) and the generation
service (``GenerationService``: model answers). Agents are built by the
factory the engine is handed, each with its own view of all this
(``AgentView``, an ``AgentContext``), never the simulation itself.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import simpy

from agentville.sim.context.protocols import Agent, AgentFactory
from agentville.sim.core import events
from agentville.sim.core.clock import Clock
from agentville.sim.core.events import FAILED, FINISHED, INTERRUPTED
from agentville.sim.core.kernel import Kernel
from agentville.sim.generation import Backend, ChoiceRequest, Completion, Embedder, GenerationService, LLMCache, Request
from agentville.sim.scenario.schema import CognitionSpec, PersonaSpec, Scenario
from agentville.sim.scenario.stored import file_hint, scenario_text
from agentville.sim.store.eventlog import EventLog
from agentville.sim.store.eventstore import EventStore
from agentville.sim.store.writer import StoredPrefix
from agentville.sim.world.geography import World
from agentville.sim.world.town import Town

from .pacing import Pace
from .scheduler import Scheduler
from .view import AgentView

PROGRESS_STEP_S = 15 * 60  # how often (in simulated seconds) the driver commits the log and reports progress
SCHEDULING = ("in-order", "out-of-order")
Progress = Callable[[float, float], None]  # (simulated seconds reached, simulated seconds at the end)
Preparation = Callable[[GenerationService], dict[str, Any]]  # once the log is open: settings it decided


@dataclass
class RunSummary:
    run_id: str
    db_path: str
    status: str
    events: int
    by_kind: dict[str, int]
    agents: int
    sim_start: dt.datetime
    sim_end: dt.datetime
    wall_s: float
    llm_calls: int
    llm_blocked_s: float
    extra: dict[str, Any] = field(default_factory=dict)


class Simulation:
    """One run of a scenario, logged to an event store (assembled by ``sim.runtime.runner``)."""

    def __init__(self, scenario: Scenario, *, store: EventStore, backend: Backend, embedder: Embedder,
                 agent_factory: AgentFactory, seed: int | None = None, cache_mode: str = "read-write",
                 scenario_path: str | None = None, settings: dict[str, Any] | None = None,
                 cognition: CognitionSpec | None = None, scheduling: str = "in-order",
                 prepare: Preparation | None = None):
        """``prepare`` runs once the log is open, before any agent lives (the agents' calibration, which
        asks the model and logs its calls); the settings it returns join the run's."""
        if scheduling not in SCHEDULING:
            raise ValueError(f"scheduling must be one of {SCHEDULING}")
        self.scenario = scenario
        self.cognition = cognition or scenario.cognition
        self.seed = scenario.seed if seed is None else seed
        self.store = store
        self.env = Kernel(out_of_order=scheduling == "out-of-order")
        self.clock = Clock(scenario.start)
        self.world = World(scenario)
        self.log = EventLog(self.env)
        self.town = Town(self.world, self.env, self.log, alone_until=self._alone_until)
        generation = scenario.generation
        self.llm = GenerationService(
            backend, self.env, run_seed=self.seed, embedder=embedder,
            cache=None if cache_mode == "off" else LLMCache(store.db, cache_mode),
            call_seconds=generation.call_minutes * 60, step_seconds=generation.step_seconds,
            temperature=generation.temperature, top_p=generation.top_p,
            max_tokens=generation.max_tokens, wait_timeout_s=generation.timeout_s,
            on_failure=generation.on_failure, on_call=self._log_call)
        self.scenario_path = scenario_path
        self.settings = {"llm": backend.model_id, "embedder": embedder.model_id, "llm_cache": cache_mode,
                         "cognition": self.cognition.model_dump(), **(settings or {})}
        self.run_id: str | None = None
        self._wall_start = time.monotonic()
        self._agent_factory, self._prepare = agent_factory, prepare
        self.agents: dict[str, Agent] = {}
        self.homes: dict[str, tuple[str, str]] = {}
        for persona in scenario.personas:
            self._register(persona)
        self._whispers: dict[str, list[float]] = {}  # scheduled whispers not yet heard, by agent (lookahead)
        for item in scenario.interventions:
            self._whispers.setdefault(item.agent, []).append(self.clock.seconds(item.at))
        for times in self._whispers.values():
            times.sort()
        self.scheduler = Scheduler(self.env, self.town, self.world, self.log, self.llm, self.homes,
                                   self._promises) if self.env.out_of_order else None

    # -- the run's state -------------------------------------------------------------
    @property
    def now(self) -> dt.datetime:
        return self.clock.at(self.env.now)

    @property
    def running(self) -> bool:
        return self.log.recording

    @property
    def events_logged(self) -> int:
        """How many events this run has logged so far (progress displays show it)."""
        return self.log.seq

    def _alone_until(self, name: str) -> float:
        return self.agents[name].promises.alone_until

    def _promises(self, name: str) -> tuple[float, float]:
        """(stays_until, alone_until) of an agent; the second no later than its next scheduled whisper."""
        promises = self.agents[name].promises
        stays, alone = promises.stays_until, promises.alone_until
        whispers = self._whispers.get(name)
        return stays, max(stays, min(alone, whispers[0])) if whispers else alone

    def _register(self, persona: PersonaSpec) -> Agent:
        """Build an agent; its rank in the kernel's order is its place in the registry."""
        self.env.register(persona.name)
        self.homes[persona.name] = self.world.resolve(persona.home).area_key
        view = AgentView(persona.name, kernel=self.env, clock=self.clock, world=self.world, town=self.town,
                         llm=self.llm, log=self.log, cognition=self.cognition, residents=self.agents)
        agent = self._agent_factory(view, persona)
        self.agents[persona.name] = agent
        return agent

    def _log_call(self, request: Request, completion: Completion, wall: dict[str, Any], asked: float,
                  due: float) -> None:
        if not self.running:  # an interview asked before or after the run: nothing to log it in
            return
        data = {"purpose": request.purpose, "model": self.llm.model_id, "request": type(request).__name__,
                "prompt": request.prompt, "output": completion.text, "seed": request.seed,
                "prompt_tokens": completion.prompt_tokens, "output_tokens": completion.output_tokens,
                "fallback": completion.fallback, "asked": round(asked, 3), "due": round(due, 3)}
        if isinstance(request, ChoiceRequest):
            data["options"] = list(request.options)
            if completion.raw is not None:  # what the model said, so a user can see why this option came out
                data["raw"] = completion.raw
        self.log(events.LLM_CALL, request.agent, wall=wall, **data)

    # -- the experimenter's handles -------------------------------------------------
    def agent(self, name: str) -> Agent:
        try:
            return self.agents[name]
        except KeyError:
            raise KeyError(f"no agent named {name!r} (agents: {', '.join(self.agents)})") from None

    def add_agent(self, persona: PersonaSpec) -> Agent:
        """A new resident; once the run has started it begins living at once (logged as ``agent_added``)."""
        self.world.resolve(persona.home)  # a KeyError names a home that does not exist
        self.world.add_resident(persona)
        agent = self._register(persona)
        if self.running:
            self.log(events.AGENT_ADDED, persona.name, persona=persona.model_dump(mode="json"))
            self.env.process(agent.live(), owner=persona.name)
        return agent

    def whisper(self, agent: str, text: str) -> None:
        """Put ``text`` in an agent's inner voice now; it takes it as its own thought."""
        target = self.agent(agent)
        if self.running:
            self.log(events.INTERVENTION, agent, intervention="whisper", text=text)
        target.whisper(text)

    def interview(self, agent: str, question: str) -> str:
        """Ask an agent a question; it answers from memory and nothing about it changes."""
        return self.agent(agent).interview(question)

    def interview_all(self, question: str) -> dict[str, str]:
        """Ask every agent the same question; the model gets all the questions at once."""
        asked = {name: agent.interview_question(question) for name, agent in self.agents.items()}
        answers = self.llm.answer_now([request for request, _ in asked.values()])
        return {name: finish(answer) for (name, (_, finish)), answer in zip(asked.items(), answers, strict=True)}

    def set_object(self, where: str, state: str | None) -> None:
        """Change an object's state (``"Hobbs Cafe: kitchen: stove"``, ``"on fire"``); None restores it."""
        location = self.world.resolve(where)
        if location.object is None:
            raise ValueError(f"{where!r} names no object (write 'Place: area: object')")
        self.town.set_object(location, state)

    def flush(self) -> None:
        """Commit the events logged so far, so readers of the store see them."""
        self.log.flush()

    # -- running ------------------------------------------------------------------
    def _intervention(self, at: float, agent: str, text: str) -> Generator[simpy.Event, Any, None]:
        """One scheduled whisper, on the clock of the agent it is for."""
        yield self.env.timeout(max(0.0, at - self.env.now))
        self._whispers[agent].remove(at)
        self.whisper(agent, text)

    def start(self, until: dt.datetime | None = None, *, resume: str | None = None, parent: str | None = None,
              fork_time: float | None = None) -> str:
        """Open the run in the store and start every agent; ``until`` is only the planned end, for the record.

        ``resume`` names a stopped run of the same scenario and settings: the
        simulation re-lives it from the start (its model answers come from the
        cache) without writing what is already stored, then goes on live.
        ``parent``/``fork_time`` record where a fork comes from.
        """
        if self.run_id is not None:
            raise RuntimeError("this simulation has already started")
        self._wall_start = time.monotonic()
        if resume:
            self.run_id = resume
            stored = self.store.reopen_run(resume)
        else:
            self.run_id = self.store.start_run(
                scenario=self.scenario.name, seed=self.seed, sim_start=self.scenario.start, sim_until=until,
                settings=self.settings, scenario_path=file_hint(self.scenario_path),
                scenario_text=scenario_text(self.scenario), parent_run_id=parent, fork_time=fork_time)
            stored = 0
        self.log.open(self.store.writer(self.run_id, skip_through=stored, relive=self._relived(resume, parent,
                                                                                             fork_time, stored)))
        self.log(events.RUN_STARTED, scenario=self.scenario.name, seed=self.seed, agents=list(self.agents),
                 start=self.scenario.start.isoformat(), until=until.isoformat() if until else None)
        if self._prepare is not None:
            found = self._prepare(self.llm)
            self.settings.update(found)
            self.store.add_settings(self.run_id, found)
        for name, agent in self.agents.items():
            self.env.process(agent.live(), owner=name)
        for item in sorted(self.scenario.interventions, key=lambda i: i.at):
            self.env.process(self._intervention(self.clock.seconds(item.at), item.agent, item.text),
                             owner=item.agent)
        return self.run_id

    def _relived(self, resume: str | None, parent: str | None, fork_time: float | None,
                 stored: int) -> StoredPrefix | None:
        """The stored rows this run must log again exactly: a resume's own, a fork's parent's up to the fork.

        Such a run reuses every cached answer, fallbacks included (a fallback
        is what the stored log used); anything it cannot reproduce stops it.
        """
        if resume:
            prefix = StoredPrefix(self.store, resume, through=stored)
        elif parent and fork_time is not None:  # its first row names its own end; the rest must match
            prefix = StoredPrefix(self.store, parent, first=2, through=self.store.last_seq(parent, until=fork_time),
                                  what="fork")
        else:
            return None
        if self.llm.cache is not None:
            self.llm.cache.retry_fallbacks = False
        return prefix

    def advance(self, until: dt.datetime, *, progress: Progress | None = None, pace: float | None = None) -> None:
        """Simulate up to ``until``, committing the log every 15 simulated minutes.

        ``pace`` (simulated minutes per wall second) holds the run back to that
        speed and commits at least every wall second (``sim.runtime.pacing``).
        """
        if not self.running or self.run_id is None:
            raise RuntimeError("the simulation is not running; call start() first (or run())")
        end = self.clock.seconds(until)
        reached = self.env.now
        run_id = self.run_id
        pacer = Pace(pace, reached) if pace else None

        def commit(at: float) -> None:
            self.log.flush()
            self.store.mark_progress(run_id, at)
            if progress:
                progress(at, end)

        if self.scheduler is not None:  # out of order: no barrier every step, only a report when passing one
            marked = [reached]

            def report(safe: float) -> None:
                if safe >= end or safe - marked[0] >= PROGRESS_STEP_S:
                    marked[0] = safe
                    commit(safe)
                if pacer:
                    pacer.keep(safe, partial(commit, safe))

            self.scheduler.run_until(end, report)
            return
        while reached < end:
            boundary = min(reached + PROGRESS_STEP_S - reached % PROGRESS_STEP_S, end)
            reached = pacer.next_stop(reached, boundary) if pacer else boundary
            self.env.run_until(reached)
            if reached == boundary:
                commit(reached)
            if pacer:
                pacer.keep(reached, partial(commit, reached))

    def finish(self, status: str = FINISHED, error: str | None = None) -> RunSummary:
        """Close the run: the last events are committed and the store records the outcome."""
        if self.run_id is None:
            raise RuntimeError("this simulation never started")
        if self.running:
            try:
                if status == FINISHED:
                    self.log(events.RUN_FINISHED, events=self.log.seq + 1)
            finally:  # stopped midway out of order, rows past the first unprocessed event are not a prefix
                self.log.close(None if status == FINISHED else self.env.first_pending())
                reached = self.env.now if self.env.safe_time is None else min(self.env.now, self.env.safe_time)
                self.store.end_run(self.run_id, status, sim_reached=reached, error=error)
        return RunSummary(
            run_id=self.run_id, db_path=str(self.store.path), status=status, events=self.log.seq,
            by_kind=dict(self.log.kinds), agents=len(self.agents), sim_start=self.scenario.start,
            sim_end=self.now, wall_s=time.monotonic() - self._wall_start,
            llm_calls=self.log.kinds[events.LLM_CALL], llm_blocked_s=self.llm.blocked_s,
            extra={"cache_hits": self.llm.cache.hits if self.llm.cache else 0})

    def run(self, until: dt.datetime, *, progress: Progress | None = None, pace: float | None = None,
            resume: str | None = None, parent: str | None = None, fork_time: float | None = None) -> RunSummary:
        """Run from the scenario start to ``until``; the store records the outcome (see ``start``, ``advance``)."""
        try:  # starting asks the model too (``prepare``): a fault there fails the run as well
            self.start(until, resume=resume, parent=parent, fork_time=fork_time)
            self.advance(until, progress=progress, pace=pace)
        except KeyboardInterrupt:
            if self.run_id is not None:
                self.finish(INTERRUPTED, "interrupted by the user")
            raise
        except BaseException as exc:
            if self.run_id is not None:
                self.finish(FAILED, f"{type(exc).__name__}: {exc}")
            raise
        return self.finish()
