"""``agentville``: run, check and inspect simulations from the shell.

Every user mistake ends as one readable line on stderr and exit code 2; a
traceback means a bug in Agentville, not in the user's input. This module
holds the command line itself: ``main``, the parser and the commands in the
order ``agentville --help`` lists them. Each command is a module of this
folder named after it, declaring its parser (``register``) next to what it
does (``handle``); the arguments several commands share are in ``arguments``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from collections.abc import Sequence
from typing import NoReturn

from agentville.sim import __version__
from agentville.sim.core.errors import GenerationError, ScenarioError, UserError

from . import dashboard, evaluate, events, fork, import_ga, resume, run, runs, stats, sweep, validate
from .arguments import EXIT_USAGE  # bad input: a scenario, a flag, a file, a store
from .terminal import escaped_output, say

COMMANDS = (run, validate, events, stats, evaluate, runs, resume, fork, sweep, dashboard, import_ga)
"""The command modules, in the order of ``agentville --help``; each adds its parser with ``register(commands)``."""

EXIT_STOPPED = 3  # a run stopped on purpose: a model answer could not be had (on_failure: stop, a replay miss)
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; what it prints shows control characters written out (``terminal``), never obeys them."""
    with escaped_output():
        return _command(argv)


def _command(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as exc:
        for problem in exc.problems:
            say(problem)
        return EXIT_USAGE
    except GenerationError as exc:
        say(f"agentville: the run stopped: {exc}")
        return EXIT_STOPPED
    except (UserError, LookupError, FileNotFoundError) as exc:
        say(f"agentville: error: {exc}")
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `agentville events DB | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a --db under a file, an export into a folder that does not exist...
        say(f"agentville: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        return EXIT_USAGE
    except sqlite3.DatabaseError as exc:
        say(f"agentville: error: {getattr(args, 'db', '')} is not a readable event store ({exc})")
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nagentville: interrupted; everything logged so far is kept", file=sys.stderr)
        return EXIT_INTERRUPTED


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line (with the close match of a mistyped command), exit code 2."""

    def error(self, message: str) -> NoReturn:
        import difflib
        import re

        typo = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if typo:
            choices = re.findall(r"'([^']*)'", typo.group(2))
            close = difflib.get_close_matches(typo.group(1), choices, n=1)
            message = f"no command '{typo.group(1)}'" + (f"; did you mean '{close[0]}'?" if close else
                                                           f" (commands: {', '.join(choices)})")
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(
        prog="agentville",
        description="Simulate believable people with language models: run scenario files, "
                    "check them, and inspect the event logs they write.",
        epilog="Run 'agentville COMMAND --help' for the options of one command.")
    parser.add_argument("--version", action="version", version=f"agentville {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in COMMANDS:
        command.register(commands)
    return parser

