"""Agentville's engine: scenarios, the world, the discrete-event simulation, the event store."""

__version__ = "0.1.0"

from .engine import RunSummary, Simulation, run_scenario  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .store import EventStore  # noqa: E402

__all__ = ["EventStore", "RunSummary", "Scenario", "Simulation", "load_scenario", "run_scenario", "__version__"]
