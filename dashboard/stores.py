"""The event stores the dashboard opens: those in a folder, a run's signature, and a run's log with its scenario.

The shell lists stores when none is named, asks for a run's signature on every
refresh (it changes whenever there is something new to show) and loads a run's
log once (``runlog.Logs`` grows it afterwards).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pandas as pd

from agentville.dashboard.runlog import RunLog, open_store
from agentville.sim.analysis.runlist import fork_origin, varying_settings
from agentville.sim.scenario.stored import scenario_or_warning
from agentville.sim.store.eventstore import RunSignature


def load_run(path: str | Path, run_id: str | None = None) -> RunLog:
    """A run's log (its events read kind by kind as views ask: ``runlog``) and its scenario (the copy stored
    with the run, else its file)."""
    with open_store(path) as store:
        run = dict(store.run(run_id), db_path=str(path))
    scenario, warning = scenario_or_warning(run)  # none: the map falls back to a generated layout
    return RunLog.read(path, run["run_id"], scenario=scenario, scenario_warning=warning)


def run_signature(path: str | Path, run_id: str | None = None) -> RunSignature:
    """(run id, events logged, progress, status): changes whenever there is something new to show."""
    with open_store(path) as store:
        return store.run_signature(run_id)


def find_stores(folder: str | Path) -> pd.DataFrame:
    """Every event store in ``folder`` (not recursive) with its runs, newest first.

    ``seed``, ``settings`` (those that differ between the listed runs: a sweep's grid) and
    ``fork`` (where a fork comes from) tell runs of the same scenario apart.
    """
    runs = []
    for path in sorted(Path(folder).glob("*.db")):
        try:
            with open_store(path) as store:
                runs += [dict(run, db=str(path)) for run in store.runs()]
        except (sqlite3.DatabaseError, LookupError, KeyError):
            continue
    rows = [{"db": run["db"], "run": run["run_id"], "scenario": run["scenario"], "seed": run["seed"],
             "settings": settings, "fork": fork_origin(run), "status": run["status"], "started": run.get("started_at")}
            for run, settings in zip(runs, varying_settings(runs))]
    return pd.DataFrame(rows, columns=["db", "run", "scenario", "seed", "settings", "fork", "status", "started"])
