"""What several commands share about their arguments: value types, flag groups, the store a DB names.

An argument that cannot be parsed is argparse's job (one line, exit code 2,
through the parser ``agentville.sim.cli`` builds); an argument that parses but
names nothing usable (a store that is not there) is a ``UserError`` the
command raises, which ``main`` prints as one line with the same exit code.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from agentville.sim.core.errors import UserError
from agentville.sim.generation.endpoints import DEFAULT_KEY_ENV, TRUSTED_ENV

EXIT_USAGE = 2  # bad input: a scenario, a flag, a file, a store

Commands = argparse._SubParsersAction
"""The ``agentville`` parser's subcommands: a command module's ``register`` adds its parser to them."""


def seed_value(text: str) -> int:
    """A seed the store can keep (SQLite integers are 64-bit)."""
    from agentville.sim.scenario.schema import MAX_SEED

    try:
        seed = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid seed {text!r}: a whole number") from None
    if not 0 <= seed <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"seed {seed} is out of range (0 to {MAX_SEED})")
    return seed


def pace_value(text: str) -> float:
    """A pace: a positive number of simulated minutes per wall second."""
    try:
        pace = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid pace {text!r}: simulated minutes per second, e.g. 30") from None
    if not 0 < pace < float("inf"):
        raise argparse.ArgumentTypeError(f"pace {text}: must be more than 0 simulated minutes per second")
    return pace


def model_flags(parser: argparse.ArgumentParser) -> None:
    """How ``resume`` and ``fork`` reach the stored run's model again, and how they run."""
    parser.add_argument("--llm", default=None, metavar="BACKEND",
                        help="backend, when the stored run's cannot be inferred (fake and embedded can)")
    parser.add_argument("--model", default=None, help="model for --llm transformers|openai")
    server_flags(parser)
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    scheduling_flag(parser)
    pace_flag(parser)


def server_flags(parser: argparse.ArgumentParser) -> None:
    """Where requests to an OpenAI-compatible server go, and the secret that goes with them: the user's call."""
    parser.add_argument("--base-url", action="append", default=None, metavar="URL",
                        help="OpenAI-compatible server; repeat for replicas (each agent's requests kept on one, for "
                             "its prefix cache). These replace the scenario's generation.base_urls, and only these "
                             "get the API key")
    parser.add_argument("--api-key-env", default=DEFAULT_KEY_ENV, metavar="NAME",
                        help=f"environment variable holding the API key sent to the --base-url servers "
                             f"(default: {DEFAULT_KEY_ENV}); servers named only by the scenario get no key unless "
                             f"listed in ${TRUSTED_ENV}")


def pace_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pace", type=pace_value, default=None, metavar="MIN_PER_S",
                        help="run no faster than this many simulated minutes per wall second (e.g. 30: an hour in "
                             "2 s), committing the log every second, to watch a fake run live in the dashboard; "
                             "the log is the same at any pace (default: as fast as it goes)")


def scheduling_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheduling", default="auto", choices=["auto", "in-order", "out-of-order"],
                        help="out-of-order lets areas of the town that cannot affect each other run ahead while "
                             "others wait for the model (more requests in flight); the log is the same either "
                             "way. auto: out of order unless answers are instant (fake backend, replay)")


def run_flag(parser: argparse.ArgumentParser) -> None:
    """``--run``: which run of the store a command reads (``EventStore.run`` takes an id or a unique prefix)."""
    parser.add_argument("--run", default=None, metavar="ID", help="run id or unique prefix (default: newest run)")


def open_store(db: str, read_only: bool = True):
    """The event store a command's DB argument names; a path that is no file is a ``UserError``, not a new store."""
    from agentville.sim.store.eventstore import EventStore

    if not Path(db).is_file():
        raise UserError(f"{db}: no such event store")
    return EventStore(db, read_only=read_only)
