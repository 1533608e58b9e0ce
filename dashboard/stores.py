"""The event stores the dashboard opens: those in a folder, a run's signature, and a run's log with its scenario.

The shell lists stores when none is named, asks for a run's signature on every
refresh (it changes whenever there is something new to show) and loads a run's
log once (``runlog.Logs`` grows it afterwards). A page may open a store of the
runs folder by its file name only (``store_named``), and a store it cannot read
is one line (``problem``) that names the store, never a folder of the server.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pandas as pd

from agentville.dashboard.runlog import RunLog, open_store
from agentville.sim.analysis.runlist import fork_origin, varying_settings
from agentville.sim.core.errors import UserError
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


NAME_CHARS = 255
"""The longest store name a page may ask for: the longest file name of common file systems."""
PROBLEMS = (sqlite3.Error, OSError, LookupError, UserError)
"""What reading a store raises when it is damaged, not a store, gone, locked, or lacks the run asked for."""


def store_files(folder: str | Path) -> dict[str, Path]:
    """The files ``*.db`` right in ``folder``, by file name: what a page may open by name.

    A link counts only if it leads to a file of the same folder: one leading out of it would serve whatever
    it points to.
    """
    home = Path(folder).resolve()
    try:
        paths = sorted(home.glob("*.db"))
    except OSError:
        return {}
    found = {}
    for path in paths:
        try:
            real = path.resolve(strict=True)
            if real.parent == home and real.is_file():
                found[path.name] = real
        except (OSError, RuntimeError):  # a dangling link, a loop of links
            continue
    return found


def store_named(folder: str | Path, name: str) -> Path | None:
    """The store of ``folder`` called ``name`` (its file name, ``.db`` optional); None for any other text."""
    if not 0 < len(name) <= NAME_CHARS or any(c in name for c in "/\\\0"):
        return None  # no path: not even a look at the file system
    found = store_files(folder)
    return found.get(name) or found.get(f"{name}.db")


def problem(path: str | Path, exc: Exception) -> str:
    """One line on why the store at ``path`` cannot be shown, naming it by its file name (no server folders)."""
    name = Path(path).name
    try:
        gone = not Path(path).is_file()
    except OSError:
        gone = True
    if gone:
        return f"{name} is gone: no such file (deleted or moved?)"
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return f"{name} is locked by another program; reload the page to try again"
    if isinstance(exc, sqlite3.Error):
        return f"{name} cannot be read as an event store (damaged, or not one): {unfoldered(str(exc), path)}"
    if isinstance(exc, OSError):
        return f"{name} cannot be read: {exc.strerror or type(exc).__name__}"
    return f"{name}: {unfoldered(str(exc), path)}"


def unfoldered(text: str, path: str | Path) -> str:
    """``text`` with the store's folder taken out of the paths it quotes: the page names files, not folders."""
    folders = {str(Path(path).parent), str(Path(path).absolute().parent), str(Path(path).resolve().parent)}
    for folder in sorted(folders, key=len, reverse=True):
        text = text.replace(folder.rstrip(os.sep) + os.sep, "")
    return text


def find_stores(folder: str | Path) -> pd.DataFrame:
    """Every event store in ``folder`` (not recursive; ``store_files``) with its runs, newest first.

    ``seed``, ``settings`` (those that differ between the listed runs: a sweep's grid) and
    ``fork`` (where a fork comes from) tell runs of the same scenario apart.
    """
    runs = []
    for name, path in store_files(folder).items():
        try:
            with open_store(path) as store:
                runs += [dict(run, db=name) for run in store.runs()]
        except PROBLEMS:
            continue
    rows = [{"db": run["db"], "run": run["run_id"], "scenario": run["scenario"], "seed": run["seed"],
             "settings": settings, "fork": fork_origin(run), "status": run["status"], "started": run.get("started_at")}
            for run, settings in zip(runs, varying_settings(runs))]
    return pd.DataFrame(rows, columns=["db", "run", "scenario", "seed", "settings", "fork", "status", "started"])
