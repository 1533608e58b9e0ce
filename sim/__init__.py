"""Agentville's engine: scenarios, the world, the discrete-event simulation, the event store.

The folders are the layers, lowest first (a module imports its own folder
and those below; ``docs/ARCHITECTURE.md`` draws them): ``core``,
``scenario``, ``world``, ``store``, ``generation``, ``context``, then the
``agents`` package, then ``runtime``, ``analysis``, ``lab``, ``ga`` and
``cli``. The names below are loaded on first use, so importing one kernel
module never pulls in the agents or the run assembly.

Modules that lived at the top of ``agentville.sim`` before the folders (for
example ``agentville.sim.experiment``) still import under their old names,
with a DeprecationWarning naming the new place.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {"EventStore": "store", "Experiment": "lab.experiment", "RunSummary": "runtime.engine",
            "Scenario": "scenario", "Simulation": "runtime.engine", "load_scenario": "scenario",
            "open_run": "runtime.runner", "run_scenario": "runtime.runner", "agent_table": "analysis.tables",
            "model_table": "analysis.tables"}
__all__ = [*_EXPORTS, "__version__"]

_MOVED_TO = {
    "errors": "core.errors", "clock": "core.clock", "kernel": "core.kernel", "location": "core.location",
    "placenames": "core.placenames", "events": "core.events",
    "yamlpos": "scenario.yamlpos", "scenario_checks": "scenario.checks", "stored_scenario": "scenario.stored",
    "town": "world.town",
    "eventwriter": "store.writer", "payloads": "store.payloads", "eventlog": "store.eventlog",
    "engine": "runtime.engine", "scheduler": "runtime.scheduler", "runner": "runtime.runner",
    "pacing": "runtime.pacing",
    "townstate": "analysis.townstate", "tables": "analysis.tables", "provenance": "analysis.provenance",
    "stats": "analysis.stats", "export": "analysis.export", "runlist": "analysis.runlist",
    "experiment": "lab.experiment", "sweep": "lab.sweep", "metrics": "lab.metrics",
    "import_ga": "ga.importer", "maze_ga": "ga.maze", "ga_match": "ga.matching", "ga_cognition": "ga.cognition",
}
MOVED = {f"{__name__}.{old}": f"{__name__}.{new}" for old, new in _MOVED_TO.items()}
"""Old module name -> where it lives now (sim.scenario, sim.store, sim.world and sim.context are packages that
re-export what their old modules offered)."""


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    if f"{__name__}.{name}" in MOVED:  # from agentville.sim import metrics
        return importlib.import_module(MOVED[f"{__name__}.{name}"])
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class _OldName(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a moved module under its old name: the same module object, so state is never doubled."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        return importlib.util.spec_from_loader(fullname, self) if fullname in MOVED else None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        warnings.warn(f"{spec.name} moved to {MOVED[spec.name]}", DeprecationWarning, stacklevel=2)
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module: ModuleType) -> None:
        """The module ran when it was imported under its new name."""


if not any(isinstance(finder, _OldName) for finder in sys.meta_path):
    sys.meta_path.append(_OldName())
