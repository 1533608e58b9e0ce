"""``agentville validate``: check scenario files and report every problem, one line each."""

from __future__ import annotations

import argparse

from agentville.sim.core.errors import ScenarioError, UserError

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
            status = max(status, said_where_requests_go(name, scenario.generation.base_urls))
    return status


def said_where_requests_go(name: str, urls: list[str]) -> int:
    """A scenario that names servers is told where its requests would go and whether the key would follow."""
    from agentville.sim.generation.endpoints import scenario_destinations

    if not urls:
        return 0
    try:
        print(f"{name}: generation.base_urls: {scenario_destinations(urls)}")
    except UserError as exc:
        say(f"{name}: generation.base_urls: {exc}")
        return EXIT_USAGE
    return 0
