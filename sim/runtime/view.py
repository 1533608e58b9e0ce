"""One agent's view of the run: the ``AgentContext`` the engine gives each agent.

It hands the agent the run's clock, map, town and model typed as what an
agent may read (``sim/context/protocols.py``), and does on its behalf what it
may do: schedule its events, start its own processes (their events sort as
its own, see ``sim/core/kernel.py``), act on the town as itself, log, number
its conversations. The ``Simulation`` itself stays out of the agent's reach.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import simpy

from agentville.sim.context.protocols import Agent, Process, SubProcess
from agentville.sim.core.clock import Clock
from agentville.sim.core.kernel import Kernel
from agentville.sim.core.location import Location
from agentville.sim.generation import GenerationService
from agentville.sim.scenario.schema import CognitionSpec
from agentville.sim.store.eventlog import EventLog
from agentville.sim.world.geography import World
from agentville.sim.world.town import Town


class AgentView:
    """What the agent ``name`` may see and do (``AgentContext``)."""

    def __init__(self, name: str, *, kernel: Kernel, clock: Clock, world: World, town: Town, llm: GenerationService,
                 log: EventLog, cognition: CognitionSpec, residents: Mapping[str, Agent]):
        self.name = name
        self.clock, self.world, self.town, self.llm = clock, world, town, llm
        self.cognition, self.residents = cognition, residents
        self._kernel, self._log = kernel, log
        self._conversations = 0  # conversations it started (numbered per agent, so in any run order)

    @property
    def now(self) -> float:
        return self._kernel.now

    @property
    def running(self) -> bool:
        return self._log.recording

    # -- time -----------------------------------------------------------------------
    def timeout(self, delay: float) -> simpy.Event:
        return self._kernel.timeout(delay)

    def event(self) -> simpy.Event:
        return self._kernel.event()

    def all_of(self, events: Iterable[simpy.Event]) -> simpy.Event:
        return self._kernel.all_of(events)

    def any_of(self, events: Iterable[simpy.Event]) -> simpy.Event:
        return self._kernel.any_of(events)

    def process(self, generator: Process) -> simpy.Process:
        return self._kernel.process(generator, owner=self.name)

    # -- the town, as itself -----------------------------------------------------------
    def place(self, where: Location) -> None:
        self.town.place(self.name, where)

    def walk(self, where: Location) -> SubProcess[None]:
        return self.town.walk(self.name, where)

    def start_action(self, activity: str, description: str) -> None:
        self.town.start_action(self.name, activity, description)

    def use(self, obj: Location, state: str) -> None:
        self.town.set_object(obj, state, self.name)

    def free(self, obj: Location) -> None:
        """Its use of ``obj`` is over (the object shows whoever else still uses it, or its default)."""
        self.town.set_object(obj, None, self.name)

    # -- the record ----------------------------------------------------------------------
    def log(self, kind: str, agent: str | None = None, /, **data: Any) -> None:
        self._log(kind, agent, **data)

    def next_conversation_id(self) -> str:
        """``"<name>/<n>"``: the n-th conversation it started."""
        self._conversations += 1
        return f"{self.name}/{self._conversations}"
