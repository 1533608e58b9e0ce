"""The simulation: a simpy environment hosting one process per agent.

``Simulation`` owns the clock, the world state (who is where, object states),
the generation service and the event log. Agents act only through its
methods (``move``, ``start_action``, ``log``), so every state change becomes an
event row and a log can rebuild the whole run.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol

import simpy

from .clock import Clock
from .generation import (Backend, ChoiceRequest, Completion, Embedder, FakeBackend, GenerationService, LLMCache,
                         Request, make_backend, make_embedder)
from .scenario import CognitionSpec, PersonaSpec, Scenario
from .store import FAILED, FINISHED, INTERRUPTED, EventStore
from .world import Location, World

PROGRESS_STEP_S = 15 * 60  # how often (in simulated seconds) the driver reports progress


class Agent(Protocol):
    """What the engine needs from an agent; cognition lives in ``agents/``."""

    name: str
    location: Location

    def live(self) -> Iterator[simpy.Event]: ...

    def whisper(self, text: str) -> None: ...

    def interview(self, question: str) -> str: ...


AgentFactory = Callable[["Simulation", PersonaSpec], Agent]


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
    """One run of a scenario, logged to an event store."""

    def __init__(self, scenario: Scenario, *, store: EventStore, seed: int | None = None,
                 backend: Backend | None = None, embedder: Embedder | None = None, cache_mode: str = "read-write",
                 agent_factory: AgentFactory | None = None, scenario_path: str | None = None,
                 settings: dict[str, Any] | None = None, cognition: CognitionSpec | None = None):
        self.scenario = scenario
        self.cognition = cognition or scenario.cognition
        self.seed = scenario.seed if seed is None else seed
        self.store = store
        self.env = simpy.Environment()
        self.clock = Clock(scenario.start)
        self.world = World(scenario)
        generation = scenario.generation
        # The fake backend is a test double, never a default: without an explicit
        # backend the scenario's (or the embedded model) answers.
        self.backend = backend or make_backend(generation.backend or "embedded", generation)
        if embedder is None:
            fake = self.backend.model_id == FakeBackend.model_id
            embedder = make_embedder(generation.embedder or ("hash" if fake else "minilm"))
        self.llm = GenerationService(
            self.backend, self.env, run_seed=self.seed, embedder=embedder,
            cache=None if cache_mode == "off" else LLMCache(store.db, cache_mode),
            call_seconds=generation.call_minutes * 60, temperature=generation.temperature, top_p=generation.top_p,
            max_tokens=generation.max_tokens, wait_timeout_s=generation.timeout_s,
            on_failure=generation.on_failure, on_call=self._log_call)
        self.scenario_path = scenario_path
        self.settings = {"llm": self.backend.model_id, "embedder": embedder.model_id, "llm_cache": cache_mode,
                         "cognition": self.cognition.model_dump(), **(settings or {})}
        self.run_id: str | None = None
        self._wall_start = time.monotonic()
        self._seq = 0
        self._writer = None
        self.kinds: Counter[str] = Counter()
        self._occupants: dict[tuple[str, str], set[str]] = {}
        self.activities: dict[str, str] = {}  # what each agent is doing now
        self.running = False
        self._conversations = 0
        if agent_factory is None:
            from agentville.agents.generative import GenerativeAgent as agent_factory
        self._agent_factory = agent_factory
        self.agents: dict[str, Agent] = {p.name: agent_factory(self, p) for p in scenario.personas}

    # -- time -------------------------------------------------------------
    @property
    def now(self) -> dt.datetime:
        return self.clock.at(self.env.now)

    # -- the log ------------------------------------------------------------
    def log(self, kind: str, agent: str | None = None, /, *, wall: dict[str, Any] | None = None, **data: Any) -> None:
        """Append one event at the current simulated time."""
        if self._writer is None:
            raise RuntimeError("the simulation is not running; call run() first")
        self._seq += 1
        self.kinds[kind] += 1
        self._writer.append(self._seq, round(self.env.now, 3), kind, agent, data, wall)

    def _log_call(self, request: Request, completion: Completion, wall: dict[str, Any]) -> None:
        if not self.running:  # an interview asked before or after the run: nothing to log it in
            return
        data = {"purpose": request.purpose, "model": self.backend.model_id, "request": type(request).__name__,
                "prompt": request.prompt, "output": completion.text, "seed": request.seed,
                "prompt_tokens": completion.prompt_tokens, "output_tokens": completion.output_tokens,
                "fallback": completion.fallback}
        if isinstance(request, ChoiceRequest):
            data["options"] = list(request.options)
        self.log("llm_call", request.agent, wall=wall, **data)

    def next_conversation_id(self) -> int:
        self._conversations += 1
        return self._conversations

    # -- world changes, each logged ---------------------------------------
    def occupants(self, place: str, area: str) -> set[str]:
        """Names of the agents now in an area (not those walking to or from it).

        Kept as an index updated on every move, so perception costs the size
        of one area, never the size of the town.
        """
        return self._occupants.get((place, area), set())

    def place(self, agent: Agent, where: Location) -> None:
        agent.location = where
        self._occupants.setdefault(where.area_key, set()).add(agent.name)
        self.log("placed", agent.name, location=str(where))

    def move(self, agent: Agent, target: Location) -> Iterator[simpy.Event]:
        """Walk ``agent`` to ``target`` along the shortest path (a simpy sub-process)."""
        origin = agent.location
        route, minutes = self.world.route(origin, target)
        if minutes > 0:
            self.log("move", agent.name, origin=str(origin), target=str(target), route=route,
                     minutes=round(minutes, 2))
            self._occupants.get(origin.area_key, set()).discard(agent.name)
            yield self.env.timeout(minutes * 60)
        self._occupants.setdefault(target.area_key, set()).add(agent.name)
        agent.location = target
        self.log("arrived", agent.name, location=str(target))

    def set_object(self, where: Location, state: str | None, agent: str | None = None) -> None:
        """Change (or, with None, reset) an object's state and log it if it changed."""
        if where.object and self.world.set_state(where, state):
            self.log("object_state", agent, location=str(where), state=self.world.object_states[where])

    def start_action(self, agent: Agent, activity: str, description: str) -> None:
        self.activities[agent.name] = activity
        self.log("action", agent.name, activity=activity, location=str(agent.location), description=description)

    # -- talking to agents ----------------------------------------------------
    def agent(self, name: str) -> Agent:
        try:
            return self.agents[name]
        except KeyError:
            raise KeyError(f"no agent named {name!r} (agents: {', '.join(self.agents)})") from None

    def add_agent(self, persona: PersonaSpec) -> Agent:
        """A new resident; once the run has started it begins living at once (logged as ``agent_added``)."""
        self.world.resolve(persona.home)  # a KeyError names a home that does not exist
        agent = self._agent_factory(self, persona)
        self.agents[persona.name] = agent
        if self.running:
            self.log("agent_added", persona.name, persona=persona.model_dump(mode="json"))
            self.env.process(agent.live())
        return agent

    def whisper(self, agent: str, text: str) -> None:
        """Put ``text`` in an agent's inner voice now; it takes it as its own thought."""
        target = self.agent(agent)
        if self.running:
            self.log("intervention", agent, intervention="whisper", text=text)
        target.whisper(text)

    def interview(self, agent: str, question: str) -> str:
        """Ask an agent a question; it answers from memory and nothing about it changes."""
        return self.agent(agent).interview(question)

    # -- running ------------------------------------------------------------
    def _interventions(self) -> Iterator[simpy.Event]:
        for item in sorted(self.scenario.interventions, key=lambda i: i.at):
            yield self.env.timeout(max(0.0, self.clock.seconds(item.at) - self.env.now))
            self.whisper(item.agent, item.text)

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
                settings=self.settings, scenario_path=self.scenario_path, parent_run_id=parent, fork_time=fork_time)
            stored = 0
        self._writer = self.store.writer(self.run_id, skip_through=stored)
        self.running = True
        self.log("run_started", scenario=self.scenario.name, seed=self.seed, agents=list(self.agents),
                 start=self.scenario.start.isoformat(), until=until.isoformat() if until else None)
        for agent in self.agents.values():
            self.env.process(agent.live())
        self.env.process(self._interventions())
        return self.run_id

    def advance(self, until: dt.datetime, *, progress: Callable[[float, float], None] | None = None) -> None:
        """Simulate up to ``until``, committing the log every 15 simulated minutes."""
        if not self.running:
            raise RuntimeError("the simulation is not running; call start() first (or run())")
        end = self.clock.seconds(until)
        reached = self.env.now
        while reached < end:
            reached = min(reached + PROGRESS_STEP_S - reached % PROGRESS_STEP_S, end)
            self.env.run(until=reached)
            self._writer.flush()
            self.store.mark_progress(self.run_id, reached)
            if progress:
                progress(reached, end)

    def finish(self, status: str = FINISHED, error: str | None = None) -> RunSummary:
        """Close the run: the last events are committed and the store records the outcome."""
        if self.running:
            try:
                if status == FINISHED:
                    self.log("run_finished", events=self._seq + 1)
            finally:
                self.running = False
                self._writer.flush()
                self.store.end_run(self.run_id, status, sim_reached=self.env.now, error=error)
        return RunSummary(
            run_id=self.run_id, db_path=str(self.store.path), status=status, events=self._seq,
            by_kind=dict(self.kinds), agents=len(self.agents), sim_start=self.scenario.start,
            sim_end=self.now, wall_s=time.monotonic() - self._wall_start,
            llm_calls=self.kinds["llm_call"], llm_blocked_s=self.llm.blocked_s,
            extra={"cache_hits": self.llm.cache.hits if self.llm.cache else 0})

    def run(self, until: dt.datetime, *, progress: Callable[[float, float], None] | None = None,
            resume: str | None = None, parent: str | None = None, fork_time: float | None = None) -> RunSummary:
        """Run from the scenario start to ``until``; the store records the outcome (see ``start``)."""
        self.start(until, resume=resume, parent=parent, fork_time=fork_time)
        try:
            self.advance(until, progress=progress)
        except KeyboardInterrupt:
            self.finish(INTERRUPTED, "interrupted by the user")
            raise
        except BaseException as exc:
            self.finish(FAILED, f"{type(exc).__name__}: {exc}")
            raise
        return self.finish()


def run_scenario(path: str | Path, *, db: str | Path, until: dt.datetime | None = None, seed: int | None = None,
                 llm: str | None = None, model: str | None = None, backend: Backend | None = None) -> RunSummary:
    """Load, run and log a scenario in one call (the Python twin of ``agentville run``).

    ``llm``/``model`` name a backend as the CLI's ``--llm``/``--model`` do;
    ``backend`` passes a ready one instead.
    """
    from .scenario import load_scenario

    scenario = load_scenario(path)
    until = until or scenario.end or scenario.start + dt.timedelta(days=1)
    generation = scenario.generation
    backend = backend or make_backend(llm or generation.backend or "embedded", generation, model=model)
    try:
        with EventStore(db) as store:
            sim = Simulation(scenario, store=store, seed=seed, backend=backend, scenario_path=str(path))
            return sim.run(until)
    finally:
        backend.close()
