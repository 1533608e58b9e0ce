"""``agentville resume``: continue a stopped, failed or killed run to its planned end."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from agentville.sim.core.errors import UserError
from agentville.sim.core.events import FINISHED, RUNNING

from .arguments import Commands, model_flags, open_store, run_flag
from .running import relive, stored_run


def register(commands: Commands) -> None:
    resume = commands.add_parser(
        "resume", help="continue a run that was stopped or killed",
        description="Continue a stopped, failed or killed run to its planned end. The run is re-lived from the "
                    "start with the model answers cached in the store (fast), writing only what is not stored "
                    "yet, so the final log is the one an uninterrupted run would have written.")
    resume.add_argument("db", metavar="DB")
    run_flag(resume)
    model_flags(resume)
    resume.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    with open_store(args.db, read_only=False) as store:
        run, scenario, llm, cognition = stored_run(store, args)
        if run["status"] in (FINISHED, RUNNING):
            raise UserError(f"run {run['run_id']} is {run['status']}: nothing to resume")
        until = dt.datetime.fromisoformat(run["sim_until"])
        print(f"Resuming {run['run_id']} ({run['status']}) to {until:%Y-%m-%d %H:%M}", file=sys.stderr)
        return relive(store, run, scenario, llm, cognition, until, args, resume=run["run_id"])
