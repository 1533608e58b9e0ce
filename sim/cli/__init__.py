"""``agentville``: run, check and inspect simulations from the shell.

Every user mistake ends as one readable line on stderr and exit code 2; a
traceback means a bug in Agentville, not in the user's input. This module
holds the command line itself; the commands live in ``running`` (run,
resume, fork) and ``reading`` (validate, events, stats, runs, sweep,
dashboard).
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

from .importing import add_import_ga
from .reading import cmd_dashboard, cmd_events, cmd_runs, cmd_stats, cmd_sweep, cmd_validate
from .running import cmd_fork, cmd_resume, cmd_run

EXIT_USAGE = 2  # bad input: a scenario, a flag, a file, a store
EXIT_STOPPED = 3  # a run stopped on purpose: a model answer could not be had (on_failure: stop, a replay miss)
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except ScenarioError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return EXIT_USAGE
    except GenerationError as exc:
        print(f"agentville: the run stopped: {exc}", file=sys.stderr)
        return EXIT_STOPPED
    except (UserError, LookupError, FileNotFoundError) as exc:
        print(f"agentville: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `agentville events DB | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a --db under a file, an export into a folder that does not exist...
        print(f"agentville: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as exc:
        print(f"agentville: error: {getattr(args, 'db', '')} is not a readable event store ({exc})", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nagentville: interrupted; everything logged so far is kept", file=sys.stderr)
        return EXIT_INTERRUPTED


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

    run = commands.add_parser(
        "run", help="run a scenario and log every event to a SQLite store",
        description="Run a scenario file headless. Every state change is logged to the event store "
                    "(SQLite); open it with 'agentville events' or pandas.",
        epilog="examples:\n  agentville run worlds/the_ville_3.yaml --until +6h\n"
               "  agentville run worlds/smallville.yaml --llm fake --until 2023-02-14T18:00 --db /tmp/a.db",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("scenario", metavar="SCENARIO", help="scenario YAML file (see worlds/)")
    run.add_argument("--until", default=None, metavar="WHEN",
                     help="when to stop: +1d, +6h, +90m after the start, or a date-time like 2023-02-14T18:00 "
                          "(default: the scenario's end, else one day)")
    run.add_argument("--db", default=None, metavar="PATH",
                     help="event store to write (default: runs/<scenario>.db); several runs can share one")
    run.add_argument("--seed", type=seed_value, default=None, help="override the scenario's seed")
    run.add_argument("--llm", default=None, metavar="BACKEND",
                     help="language model backend: embedded (Gemma 3 270M on this machine; the default), "
                          "transformers (any HF model id, directory or .gguf via --model), openai (any "
                          "OpenAI-compatible server via --base-url), fake (deterministic test double)")
    run.add_argument("--model", default=None,
                     help="model for --llm transformers|openai (overrides the scenario); for transformers also "
                          "random:ARCH, random weights of a known shape (random:qwen2-0.5b, random:llama-1b, "
                          "random:tiny) for speed checks without a download")
    run.add_argument("--base-url", action="append", default=None, metavar="URL",
                     help="OpenAI-compatible server; repeat for replicas (round-robin)")
    run.add_argument("--llm-cache", default="read-write", choices=["read-write", "read-only", "off"],
                     help="answers cache in the store: read-only replays a run without loading a model "
                          "(default: read-write)")
    ablations = run.add_argument_group("ablations (override the scenario's cognition section)")
    ablations.add_argument("--no-retrieval", action="store_true",
                           help="agents recall only their most recent memories, not the best-scoring ones")
    ablations.add_argument("--no-reflection", action="store_true", help="agents never reflect")
    ablations.add_argument("--no-planning", action="store_true",
                           help="agents do not plan their day; they choose each next activity as they go")
    _scheduling_flag(run)
    _pace_flag(run)
    run.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    run.set_defaults(handler=cmd_run)

    validate = commands.add_parser(
        "validate", help="check scenario files and report every problem",
        description="Check scenario files. Each problem is printed as FILE:LINE: field: what is wrong; "
                    "the exit code is 2 if any file has a problem.")
    validate.add_argument("files", nargs="+", metavar="FILE")
    validate.set_defaults(handler=cmd_validate)

    events = commands.add_parser(
        "events", help="print or export the events of a run",
        description="Print the events of a run as text, or export them as CSV or Parquet.",
        epilog="examples:\n  agentville events runs/the_ville_3.db --kind move --agent 'Maria Lopez'\n"
               "  agentville events runs/the_ville_3.db --csv events.csv\n"
               "  agentville events runs/the_ville_3.db --all-runs --parquet tables/ --tidy\n"
               "  agentville events runs/the_ville_3.db --csv moves.csv --tidy --kind move",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    events.add_argument("db", metavar="DB", help="event store written by 'agentville run'")
    events.add_argument("--run", default=None, metavar="ID", help="run id or unique prefix (default: newest run)")
    events.add_argument("--kind", action="append", metavar="KIND", help="only these kinds (repeatable)")
    events.add_argument("--agent", default=None, help="only this agent's events")
    events.add_argument("--limit", type=int, default=None, metavar="N", help="print at most N events")
    events.add_argument("--all-runs", action="store_true",
                        help="every run of the store, oldest first, told apart by run_id (not with --run)")
    events.add_argument("--tidy", action="store_true",
                        help="one table per kind, each data field a typed column (--parquet DIR: a KIND.parquet "
                             "per kind; --csv FILE: with exactly one --kind)")
    output = events.add_mutually_exclusive_group()
    output.add_argument("--csv", metavar="FILE", help="write CSV to FILE ('-' for stdout)")
    output.add_argument("--parquet", metavar="FILE", help="write Parquet to FILE (with --tidy: a folder)")
    events.set_defaults(handler=cmd_events)

    stats = commands.add_parser(
        "stats", help="language-model usage of a run: calls, tokens/s, latency, cache hits, fallbacks",
        description="Summarise the LLM calls of a run per purpose: calls, tokens, tokens/s, latency "
                    "percentiles, queue wait, cache hit rate and fallbacks.")
    stats.add_argument("db", metavar="DB")
    stats.add_argument("--run", default=None, metavar="ID", help="run id or unique prefix (default: newest run)")
    stats.set_defaults(handler=cmd_stats)

    runs = commands.add_parser("runs", help="list the runs in an event store",
                               description="List the runs in an event store with their status.")
    runs.add_argument("db", metavar="DB")
    runs.set_defaults(handler=cmd_runs)

    resume = commands.add_parser(
        "resume", help="continue a run that was stopped or killed",
        description="Continue a stopped, failed or killed run to its planned end. The run is re-lived from the "
                    "start with the model answers cached in the store (fast), writing only what is not stored "
                    "yet, so the final log is the one an uninterrupted run would have written.")
    resume.add_argument("db", metavar="DB")
    resume.add_argument("--run", default=None, metavar="ID", help="run id or unique prefix (default: newest run)")
    _model_flags(resume)
    resume.set_defaults(handler=cmd_resume)

    fork = commands.add_parser(
        "fork", help="start a new run identical to another up to a time, different after",
        description="Re-live a run up to --at (model answers from the cache), then go on with the changes "
                    "in --scenario: a YAML file whose 'interventions' list replaces the run's interventions "
                    "after --at. The new run records its parent and the fork time.")
    fork.add_argument("db", metavar="DB")
    fork.add_argument("--at", required=True, metavar="WHEN", help="fork time: +30h (from the scenario start) or "
                                                                  "2023-02-14T12:00")
    fork.add_argument("--scenario", default=None, metavar="CHANGES", help="YAML with the changed 'interventions'")
    fork.add_argument("--run", default=None, metavar="ID", help="run to fork (default: newest run)")
    fork.add_argument("--until", default=None, metavar="WHEN", help="end of the fork (default: the parent's end)")
    _model_flags(fork)
    fork.set_defaults(handler=cmd_fork)

    sweep = commands.add_parser(
        "sweep", help="run a scenario over a grid of seeds x settings and gather one table",
        description="Run every (seed, grid point) of a sweep file, each into its own store, in local worker "
                    "processes or on a Ray cluster; print and save one tidy table of results (a failed run is "
                    "a row with its error). Relative paths in the file are read from its folder. Exit code: 0 "
                    "if any run finished, 1 if every run failed, 2 if the sweep file is wrong. See README.md, "
                    "'Sweeps'.")
    sweep.add_argument("file", metavar="SWEEP", help="sweep YAML (scenario, until, seeds, grid, out)")
    sweep.add_argument("--workers", type=int, default=None, help="local worker processes (default: CPUs)")
    sweep.add_argument("--ray", default=None, metavar="ADDRESS",
                       help="run on Ray: 'auto' (a running cluster), 'local' (start one here) or an address")
    sweep.add_argument("--csv", default=None, metavar="FILE", help="results as CSV (default: OUT/results.csv)")
    sweep.add_argument("--parquet", default=None, metavar="FILE", help="also write the results as Parquet")
    sweep.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    sweep.set_defaults(handler=cmd_sweep)

    dashboard = commands.add_parser(
        "dashboard", help="watch a run live or replay it in the browser (Streamlit)",
        description="Start the Streamlit dashboard on an event store (read-only). While a run writes to it the "
                    "page follows along; finished runs can be replayed with a time slider. Without DB the page "
                    "lists the stores found in --runs-dir.")
    dashboard.add_argument("db", metavar="DB", nargs="?", default=None, help="event store written by 'agentville run'")
    dashboard.add_argument("--runs-dir", default="runs", metavar="DIR", help="where to look for stores without DB "
                                                                            "(default: runs)")
    dashboard.add_argument("--address", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    dashboard.add_argument("--port", type=int, default=8501, help="port to listen on (default: 8501)")
    dashboard.add_argument("--headless", action="store_true", help="do not open a browser window")
    dashboard.set_defaults(handler=cmd_dashboard)
    add_import_ga(commands)
    return parser


def _model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm", default=None, metavar="BACKEND",
                        help="backend, when the stored run's cannot be inferred (fake and embedded can)")
    parser.add_argument("--model", default=None, help="model for --llm transformers|openai")
    parser.add_argument("--base-url", action="append", default=None, metavar="URL", help="openai server(s)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    _scheduling_flag(parser)
    _pace_flag(parser)


def pace_value(text: str) -> float:
    """A pace: a positive number of simulated minutes per wall second."""
    try:
        pace = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid pace {text!r}: simulated minutes per second, e.g. 30") from None
    if not 0 < pace < float("inf"):
        raise argparse.ArgumentTypeError(f"pace {text}: must be more than 0 simulated minutes per second")
    return pace


def _pace_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pace", type=pace_value, default=None, metavar="MIN_PER_S",
                        help="run no faster than this many simulated minutes per wall second (e.g. 30: an hour in "
                             "2 s), committing the log every second, to watch a fake run live in the dashboard; "
                             "the log is the same at any pace (default: as fast as it goes)")


def _scheduling_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--scheduling", default="auto", choices=["auto", "in-order", "out-of-order"],
                        help="out-of-order lets areas of the town that cannot affect each other run ahead while "
                             "others wait for the model (more requests in flight); the log is the same either "
                             "way. auto: out of order unless answers are instant (fake backend, replay)")
