"""Experiments from Python: a run you advance, intervene in, question and measure.

    from agentville.sim.lab.experiment import Experiment

    with Experiment("worlds/the_ville_3.yaml", db="runs/exp.db", llm="fake") as exp:
        exp.run("+3h")
        exp.whisper("Klaus Mueller", "I should ask Maria how her midterm went.")
        exp.run("+3h")
        answers = exp.interview_all("What are you doing today?")
        graded = exp.evaluate()  # every resident asked questions with known answers

Each Experiment is one run in the event store; everything it does is logged
there like any other run (so the dashboard and analysis see it).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path
from typing import Any, cast

import pandas as pd

from agentville.agents.generative import GenerativeAgent
from agentville.sim.core.clock import LATEST, parse_until
from agentville.sim.core.controls import refuse_unsafe
from agentville.sim.core.errors import UserError
from agentville.sim.generation import Backend
from agentville.sim.lab.evaluation import Evaluation, evaluate_live
from agentville.sim.runtime.engine import RunSummary
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario.schema import PersonaSpec, Scenario
from agentville.sim.scenario.yamlpos import TEXTS

_QUESTION = {"question"}.__contains__  # a question may span lines; an agent's name may not


class Experiment:
    """One scenario run driven step by step (load, override, run, intervene, ask, measure, save)."""

    def __init__(self, scenario: str | Path | Scenario, *, db: str | Path, seed: int | None = None,
                 llm: str | None = None, model: str | None = None, backend: Backend | None = None,
                 cache: str = "read-write", scheduling: str = "auto", **cognition: Any):
        self._resources = contextlib.ExitStack()
        self.sim = self._resources.enter_context(open_run(
            scenario, db=db, seed=seed, llm=llm, model=model, backend=backend, cache_mode=cache, cognition=cognition,
            scheduling=scheduling))
        self.scenario = self.sim.scenario
        self.store = self.sim.store

    @property
    def agents(self) -> dict[str, GenerativeAgent]:
        """The residents by name (generative agents: their memory streams can be read)."""
        return {name: cast(GenerativeAgent, agent) for name, agent in self.sim.agents.items()}

    # -- time ------------------------------------------------------------------------
    @property
    def now(self) -> dt.datetime:
        return self.sim.now

    @property
    def run_id(self) -> str | None:
        return self.sim.run_id

    def run(self, until: str | dt.datetime) -> Experiment:
        """Simulate until a time: ``"+2h"`` (from now), ``"2023-02-14T17:00"`` or a datetime."""
        if isinstance(until, str):
            until = parse_until(until, self.now)
        elif until > LATEST:
            raise UserError(f"run({until:%Y-%m-%d %H:%M}): simulated times end at {LATEST:%Y-%m-%d %H:%M}")
        if self.sim.run_id is None:
            self.sim.start()
        self.sim.advance(until)
        return self

    def step(self, minutes: float = 15) -> Experiment:
        try:
            until = self.now + dt.timedelta(minutes=minutes)
        except OverflowError:
            raise UserError(f"step({minutes:g}): simulated times end at {LATEST:%Y-%m-%d %H:%M}") from None
        return self.run(until)

    # -- interventions -------------------------------------------------------------------
    def _started(self) -> None:
        if self.sim.run_id is None:
            self.sim.start()

    def whisper(self, agent: str, text: str) -> None:
        """An inner-voice line the agent takes as its own thought."""
        refuse_unsafe({"agent": agent, "text": text}, "whisper", TEXTS.__contains__)
        self._started()
        self.sim.whisper(agent, text)

    def set_object(self, location: str, state: str | None) -> None:
        """Change an object's state (``"Hobbs Cafe: kitchen: stove"``, ``"on fire"``); None restores it."""
        refuse_unsafe({"location": location, "state": state}, "set_object", TEXTS.__contains__)
        self._started()
        self.sim.set_object(location, state)

    def add_agent(self, persona: dict[str, Any] | PersonaSpec) -> None:
        """A new resident (same fields as a scenario's personas), who starts living right away."""
        spec = persona if isinstance(persona, PersonaSpec) else PersonaSpec(**persona)
        refuse_unsafe(spec.model_dump(mode="json"), "add_agent", TEXTS.__contains__)
        if spec.name in self.sim.agents:
            raise ValueError(f"there is already an agent named {spec.name!r}")
        self.sim.add_agent(spec)

    # -- questions -------------------------------------------------------------------------
    def interview(self, agent: str, question: str) -> str:
        refuse_unsafe({"agent": agent, "question": question}, "interview", _QUESTION)
        self._started()
        return self.sim.interview(agent, question)

    def interview_all(self, question: str) -> pd.DataFrame:
        """Ask every agent; one row per agent (agent, time, question, answer)."""
        refuse_unsafe({"question": question}, "interview_all", _QUESTION)
        self._started()
        answers = self.sim.interview_all(question)
        return pd.DataFrame([{"agent": name, "time": self.now, "question": question, "answer": answer}
                             for name, answer in answers.items()])

    def evaluate(self, seed: int | None = None) -> Evaluation:
        """Interview every resident now with questions whose answers its log knows, and grade the answers.

        Returns an ``Evaluation``: ``answers`` (a DataFrame, one row per question: agent, category, question,
        expected, answer, grade, ...), ``categories`` (a DataFrame of grade counts and a score per category,
        the paper's five and ``all``), ``hallucination_rate``, and ``rubric`` (DataFrames ``measures``,
        ``agents``, ``ungrounded``). ``seed`` samples other questions (default: the run's seed). The
        interviews are logged like ``interview``'s; they change no agent, so asking again gives equal tables.
        """
        self._started()
        return evaluate_live(self.sim, seed)

    # -- reading ------------------------------------------------------------------------------
    def events(self, kinds: list[str] | None = None) -> pd.DataFrame:
        self.sim.flush()
        return self.store.events(self.run_id, kinds=kinds)

    def memories(self, agent: str | None = None) -> pd.DataFrame:
        """The memory streams as they are now (id, kind, text, importance, created, depth, evidence)."""
        names = [agent] if agent else list(self.sim.agents)
        rows = [{"agent": name, "id": m.id, "kind": m.kind, "text": m.text, "importance": m.importance,
                 "created": self.sim.clock.at(m.created), "depth": m.depth, "evidence": list(m.evidence),
                 "subject": m.subject}
                for name in names for m in self.agents[name].memory]
        return pd.DataFrame(rows, columns=["agent", "id", "kind", "text", "importance", "created", "depth",
                                           "evidence", "subject"])

    # -- the end ----------------------------------------------------------------------------------
    def save(self) -> RunSummary:
        """Finish the run (the store marks it finished) and close what the experiment opened."""
        self._started()
        try:
            return self.sim.finish()
        finally:
            self._resources.close()

    def __enter__(self) -> Experiment:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None and self.sim.running:
            self.save()
        else:  # a failure inside the block: the run is marked failed, the store and backend are closed
            self._resources.__exit__(kind, value, traceback)
