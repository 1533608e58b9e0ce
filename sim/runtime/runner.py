"""The one place that assembles a run and tears it down.

A run is scenario + backend + embedder + event store + agents. The CLI
(run, resume, fork), ``run_scenario``, sweeps and ``Experiment`` all build
theirs here, so the choice of backend, the default embedder and the closing
of what was opened are written once:

    with open_run("worlds/the_ville_3.yaml", db="runs/v.db", llm="fake") as sim:
        summary = sim.run(sim.scenario.start + dt.timedelta(hours=6))

This module sits above the engine and the agents: it is where the engine is
handed the generative agent factory.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from agentville.agents.generative import GenerativeAgent
from agentville.agents.memory.importance import Importance
from agentville.sim.context.protocols import AgentFactory
from agentville.sim.core.controls import refuse_unsafe
from agentville.sim.generation import Backend, Embedder, make_backend, make_embedder, traits_of
from agentville.sim.generation.endpoints import DEFAULT_KEY_ENV
from agentville.sim.scenario import CognitionSpec, GenerationSpec, Scenario, load_scenario
from agentville.sim.scenario.schema import DEFAULT_BACKEND
from agentville.sim.scenario.yamlpos import TEXTS
from agentville.sim.store.eventstore import EventStore

from .engine import RunSummary, Simulation


def backend_name(generation: GenerationSpec, llm: str | None = None) -> str:
    """The backend a run uses: the one asked for, else the scenario's, else the embedded model."""
    return llm or generation.backend or DEFAULT_BACKEND


def build_backend(scenario: Scenario, llm: str | None = None, *, model: str | None = None,
                  base_urls: list[str] | None = None, api_key_env: str = DEFAULT_KEY_ENV,
                  replay_only: bool = False) -> Backend:
    return make_backend(backend_name(scenario.generation, llm), scenario.generation, model=model,
                        base_urls=base_urls, api_key_env=api_key_env, replay_only=replay_only)


def default_embedder(scenario: Scenario, backend: Backend) -> Embedder:
    """The scenario's embedder, else the backend's own (hashing for the fake backend, MiniLM for real models)."""
    return make_embedder(scenario.generation.embedder or traits_of(backend).embedder)


def assemble(scenario: Scenario, *, store: EventStore, backend: Backend, seed: int | None = None,
             cognition: CognitionSpec | Mapping[str, Any] | None = None, cache_mode: str = "read-write",
             scenario_path: str | None = None, embedder: Embedder | None = None,
             agent_factory: AgentFactory | None = None, scheduling: str = "auto") -> Simulation:
    """A Simulation of generative agents over an open store and a ready backend.

    ``cognition`` is either complete settings or overrides of the scenario's
    (``{"reflection": False}``). ``scheduling`` ("in-order", "out-of-order")
    changes how fast the run goes, never what it logs (``sim.runtime.scheduler``);
    "auto" runs out of order unless answers are instant (the fake backend,
    a read-only replay), where waiting costs nothing and in order is cheaper.

    The generative agents share the run's ``Importance``, decided once the run
    has started; a factory of one's own (``agent_factory``) rates its own way.
    """
    if scheduling == "auto":
        instant = traits_of(backend).instant or cache_mode == "read-only"
        scheduling = "in-order" if instant else "out-of-order"
    if cognition is None or isinstance(cognition, Mapping):
        cognition = scenario.cognition.model_copy(update=dict(cognition or {}))
    importance = Importance(cognition.importance, understands=traits_of(backend).understands)
    return Simulation(scenario, store=store, backend=backend, embedder=embedder or default_embedder(scenario, backend),
                      agent_factory=agent_factory or partial(GenerativeAgent, importance=importance), seed=seed,
                      cache_mode=cache_mode, scenario_path=scenario_path, scheduling=scheduling, cognition=cognition,
                      prepare=None if agent_factory else importance.prepare)


@contextlib.contextmanager
def open_run(scenario: str | Path | Scenario, *, db: str | Path | None = None, store: EventStore | None = None,
             seed: int | None = None, llm: str | None = None, model: str | None = None,
             base_urls: list[str] | None = None, api_key_env: str = DEFAULT_KEY_ENV, backend: Backend | None = None,
             cache_mode: str = "read-write",
             cognition: CognitionSpec | Mapping[str, Any] | None = None,
             scenario_path: str | None = None, scheduling: str = "auto") -> Iterator[Simulation]:
    """Build a run from a scenario (file or object) plus overrides; close what was opened here on exit.

    Pass ``db`` (a path, opened and closed here) or an open ``store``; pass
    ``llm``/``model``/``base_urls``/``api_key_env`` as the CLI's flags, or a ready
    ``backend`` (then the caller closes it); the key goes only to ``base_urls``, not to
    servers the scenario names (``sim.generation.endpoints``). A run still going when the block ends by an
    exception is marked failed, so the store never keeps a stale 'running' row.
    """
    if isinstance(scenario, Scenario):  # built in Python: held to what a file may hold
        refuse_unsafe(scenario.model_dump(mode="json"), "scenario", TEXTS.__contains__)
        loaded = scenario
    else:
        loaded, scenario_path = load_scenario(scenario), scenario_path or str(scenario)
    if (db is None) == (store is None):
        raise ValueError("open_run needs exactly one of db= (a path) or store= (an open store)")
    with contextlib.ExitStack() as cleanup:
        if backend is None:
            backend = build_backend(loaded, llm, model=model, base_urls=base_urls, api_key_env=api_key_env,
                                    replay_only=cache_mode == "read-only")
            cleanup.callback(backend.close)
        if store is None:
            assert db is not None
            store = cleanup.enter_context(EventStore(db))
        sim = assemble(loaded, store=store, backend=backend, seed=seed, cognition=cognition, cache_mode=cache_mode,
                       scenario_path=scenario_path, scheduling=scheduling)
        try:
            yield sim
        except BaseException as exc:
            if sim.running:
                sim.finish("failed", f"{type(exc).__name__}: {exc}")
            raise


def run_scenario(path: str | Path, *, db: str | Path, until: dt.datetime | None = None, seed: int | None = None,
                 llm: str | None = None, model: str | None = None, backend: Backend | None = None) -> RunSummary:
    """Load, run and log a scenario in one call (the Python twin of ``agentville run``).

    ``llm``/``model`` name a backend as the CLI's ``--llm``/``--model`` do;
    ``backend`` passes a ready one instead.
    """
    with open_run(path, db=db, seed=seed, llm=llm, model=model, backend=backend) as sim:
        return sim.run(until or sim.scenario.end or sim.scenario.start + dt.timedelta(days=1))
