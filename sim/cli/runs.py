"""``agentville runs``: the runs in an event store, one line each."""

from __future__ import annotations

import argparse

from .arguments import Commands, open_store


def register(commands: Commands) -> None:
    runs = commands.add_parser("runs", help="list the runs in an event store",
                               description="List the runs in an event store with their status.")
    runs.add_argument("db", metavar="DB")
    runs.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """One line per run: id, status, scenario, seed, the settings that differ between the runs, fork origin."""
    from agentville.sim.analysis.runlist import fork_origin, varying_settings

    with open_store(args.db) as store:
        runs = store.runs()
        counts = {r["run_id"]: store.count_events(r["run_id"]) for r in runs}
    if not runs:
        print(f"{args.db}: no runs")
    for r, settings in zip(runs, varying_settings(runs)):
        notes = "".join(f"  {note}" for note in (settings, fork_origin(r)) if note)
        print(f"{r['run_id']}  {r['status']:<11} {r['scenario']}  seed {r['seed']}{notes}  "
              f"{counts[r['run_id']]} events  started {r['started_at']}"
              + (f"  error: {r['error']}" if r.get("error") else ""))
    return 0
