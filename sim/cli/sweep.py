"""``agentville sweep``: a scenario over a grid of seeds x settings, gathered into one table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agentville.sim.core.errors import UserError
from agentville.sim.core.events import FINISHED

from .arguments import Commands


def register(commands: Commands) -> None:
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
    sweep.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Check the sweep file and the output paths, then run; exit 1 (EXIT_ALL_FAILED) if not one run finished."""
    from tqdm import tqdm

    from agentville.sim.lab.sweep import EXIT_ALL_FAILED, load_sweep, run_sweep

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: needs at least 1 worker")
    for flag, name in (("--csv", args.csv), ("--parquet", args.parquet)):
        if name and not Path(name).absolute().parent.is_dir():
            raise UserError(f"{flag} {name}: no folder {Path(name).absolute().parent}")
    sweep = load_sweep(args.file)  # every problem before the first run starts
    say_where_requests_go(sweep)
    total = len(sweep.runs())
    with tqdm(total=total, unit="run", desc=Path(args.file).stem, disable=args.no_progress or None) as bar:
        table = run_sweep(sweep, workers=args.workers, ray_address=args.ray,
                          progress=lambda row: _advance(bar, row))
    csv = Path(args.csv) if args.csv else sweep.out / "results.csv"
    table.to_csv(csv, index=False)
    if args.parquet:
        table.to_parquet(args.parquet, index=False)
    with pd_options():
        print(table.drop(columns=["db"]).to_string(index=False))
    failed = int((table["status"] != FINISHED).sum())
    print(f"{total} runs, {failed} failed; results: {csv}" + (f", {args.parquet}" if args.parquet else ""))
    if failed == total:
        errors = [str(e).strip() for e in table.get("error", []) if isinstance(e, str) and e.strip()]
        first = errors[0].splitlines()[0] if errors else "no error recorded"
        print(f"agentville: error: every run of the sweep failed; the first: {first}", file=sys.stderr)
        return EXIT_ALL_FAILED
    return 0


def say_where_requests_go(sweep: Any) -> None:
    """Once for the whole sweep (its runs do not repeat it): the servers its scenario names, and the key."""
    from agentville.sim.generation import KINDS
    from agentville.sim.generation.endpoints import scenario_destinations
    from agentville.sim.scenario import load_scenario

    generation = load_scenario(sweep.scenario, quiet=True).generation
    kind = KINDS.get(sweep.llm or generation.backend or "")
    if kind is not None and kind.needs_server:
        print(f"agentville: {scenario_destinations(generation.base_urls)}", file=sys.stderr)


def _advance(bar: Any, row: dict[str, Any]) -> None:
    bar.update(1)
    bar.set_postfix_str(f"last: {row['status']}")


def pd_options() -> Any:
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 30)
