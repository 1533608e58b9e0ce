"""``agentville events``: print the events of a run, or export them (CSV, Parquet, one typed table per kind)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from agentville.sim.core.errors import UserError
from agentville.sim.core.events import KINDS

from .arguments import Commands, open_store, run_flag


def register(commands: Commands) -> None:
    events = commands.add_parser(
        "events", help="print or export the events of a run",
        description="Print the events of a run as text, or export them as CSV or Parquet.",
        epilog="examples:\n  agentville events runs/the_ville_3.db --kind move --agent 'Maria Lopez'\n"
               "  agentville events runs/the_ville_3.db --csv events.csv\n"
               "  agentville events runs/the_ville_3.db --all-runs --parquet tables/ --tidy\n"
               "  agentville events runs/the_ville_3.db --csv moves.csv --tidy --kind move",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    events.add_argument("db", metavar="DB", help="event store written by 'agentville run'")
    run_flag(events)
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
    events.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    """Print or export the events of a run, or of every run.

    ``--tidy``: one typed table per kind (``sim.analysis.export``).
    """
    from agentville.sim.analysis import export
    from agentville.sim.core.location import suggest

    for kind in args.kind or ():
        if kind not in KINDS:
            raise UserError(f"--kind {kind}: no such event kind{suggest(kind, KINDS)} "
                            f"(kinds: {', '.join(sorted(KINDS))})")
    _check_export_flags(args)
    with open_store(args.db) as store:
        runs = export.run_ids(store) if args.all_runs else [store.run(args.run)["run_id"]]
        if not runs:
            raise UserError(f"{args.db}: holds no runs")
        if args.agent is not None:
            agents = sorted({agent for run_id in runs for agent in store.agents(run_id)})
            if args.agent not in agents:
                where = f"run {runs[0]}" if len(runs) == 1 else f"any run of {args.db}"
                raise UserError(f"--agent {args.agent}: no events of that agent in {where}"
                                f"{suggest(args.agent, agents)}")
        if args.tidy:
            return _write_tidy(args, export.tidy_tables(store, runs, kinds=args.kind, agent=args.agent,
                                                        limit=args.limit))
        frame = export.all_events(store, runs, kinds=args.kind, agent=args.agent)
    if args.limit is not None:
        frame = frame.head(args.limit)
    if args.csv or args.parquet:
        flat = export.flat(frame)
        if args.csv:
            flat.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
        else:
            flat.to_parquet(args.parquet, index=False)
        if args.csv != "-":
            print(f"wrote {len(flat)} events to {args.csv or args.parquet}", file=sys.stderr)
        return 0
    shown = None
    for row in frame.itertuples():
        if args.all_runs and row.run_id != shown:
            shown = row.run_id
            print(f"== run {shown}")
        details = "  ".join(f"{k}={_short(v)}" for k, v in row.data.items() if k != "prompt")
        who = row.agent if isinstance(row.agent, str) else "-"
        print(f"{row.time:%Y-%m-%d %H:%M:%S}  {row.kind:<13} {who:<20} {details}")
    return 0


def _check_export_flags(args: argparse.Namespace) -> None:
    """Refuse, before reading anything, flags that cannot go together."""
    if args.all_runs and args.run is not None:
        raise UserError(f"--all-runs and --run {args.run}: pick one (every run of the store, or the run named)")
    if args.limit is not None and args.limit < 0:
        raise UserError(f"--limit {args.limit}: needs a number of events, 0 or more")
    if args.tidy and not (args.csv or args.parquet):
        raise UserError("--tidy: add --parquet DIR (one KIND.parquet per kind) or --csv FILE with one --kind")
    if args.tidy and args.csv and len(set(args.kind or ())) != 1:
        raise UserError(f"--csv {args.csv} --tidy: a CSV file holds one table, so name exactly one --kind "
                        f"(or write every kind with --parquet DIR --tidy)")


def _write_tidy(args: argparse.Namespace, tables: dict[str, Any]) -> int:
    """Write the tidy tables: one CSV (one kind), or a folder of ``KIND.parquet`` files."""
    from agentville.sim.analysis import export

    if args.csv:
        (table,) = tables.values()
        table.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
    else:
        export.write_parquet_dir(tables, args.parquet)
    if args.csv != "-":
        rows = sum(len(table) for table in tables.values())
        print(f"wrote {rows} events in {len(tables)} table{'s' if len(tables) != 1 else ''} "
              f"to {args.csv or args.parquet}", file=sys.stderr)
    return 0


def _short(value: Any, width: int = 80) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"
