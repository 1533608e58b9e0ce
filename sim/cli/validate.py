"""``agentville validate``: check scenario files and report every problem, one line each."""

from __future__ import annotations

import argparse

from agentville.sim.core.errors import ScenarioError

from .arguments import EXIT_USAGE, Commands
from .terminal import say


def register(commands: Commands) -> None:
    validate = commands.add_parser(
        "validate", help="check scenario files and report every problem",
        description="Check scenario files. Each problem is printed as FILE:LINE: field: what is wrong; "
                    "the exit code is 2 if any file has a problem.")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from agentville.sim.scenario import load_scenario

    status = 0
    for name in args.files:
        try:
            scenario = load_scenario(name)
        except ScenarioError as exc:
            for problem in exc.problems:
                say(problem)
            status = EXIT_USAGE
        else:
            print(f"{name}: ok ({scenario.name}: {len(scenario.places)} places, "
                  f"{len(scenario.personas)} personas)")
    return status
