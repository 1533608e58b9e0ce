"""Agentville's engine: scenarios, the world, the discrete-event simulation, the event store.

The names below are loaded on first use, so importing one kernel module
(``agentville.sim.scenario``) never pulls in the agents or the run assembly.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {"EventStore": "store", "Experiment": "experiment", "RunSummary": "engine", "Scenario": "scenario",
            "Simulation": "engine", "load_scenario": "scenario", "open_run": "runner", "run_scenario": "runner",
            "agent_table": "tables", "model_table": "tables"}
__all__ = [*_EXPORTS, "__version__"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
