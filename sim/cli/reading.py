"""The commands that read: validate scenarios, print events, stats and runs, gather sweeps, serve the dashboard."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from agentville.sim.core import events
from agentville.sim.core.errors import ScenarioError, UserError
from agentville.sim.core.events import FINISHED

EXIT_USAGE = 2

def cmd_validate(args: argparse.Namespace) -> int:
    from agentville.sim.scenario import load_scenario

    status = 0
    for name in args.files:
        try:
            scenario = load_scenario(name)
        except ScenarioError as exc:
            for problem in exc.problems:
                print(problem, file=sys.stderr)
            status = EXIT_USAGE
        else:
            print(f"{name}: ok ({scenario.name}: {len(scenario.places)} places, "
                  f"{len(scenario.personas)} personas)")
    return status


def open_store(db: str, read_only: bool = True):
    from agentville.sim.store.eventstore import EventStore

    if not Path(db).is_file():
        raise UserError(f"{db}: no such event store")
    return EventStore(db, read_only=read_only)


def cmd_events(args: argparse.Namespace) -> int:
    """Print or export the events of a run, or of every run.

    ``--tidy``: one typed table per kind (``sim.analysis.export``).
    """
    from agentville.sim.analysis import export
    from agentville.sim.core.location import suggest

    for kind in args.kind or ():
        if kind not in events.KINDS:
            raise UserError(f"--kind {kind}: no such event kind{suggest(kind, events.KINDS)} "
                            f"(kinds: {', '.join(sorted(events.KINDS))})")
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


def cmd_stats(args: argparse.Namespace) -> int:
    from agentville.sim.analysis.stats import ANSWER_KINDS, fault_counts, format_faults, format_llm_stats, llm_stats

    with open_store(args.db) as store:
        run = store.run(args.run)
        frame = store.events(run["run_id"], kinds=ANSWER_KINDS)
    print(f"Run {run['run_id']} ({run['scenario']}, seed {run['seed']}, {run['status']}), "
          f"model {run['settings'].get('llm', '?')}")
    print(format_llm_stats(llm_stats(frame)))
    if not frame.empty:
        print(format_faults(*fault_counts(frame)))
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Check the sweep file and the output paths, then run; exit 1 (EXIT_ALL_FAILED) if not one run finished."""
    from tqdm import tqdm

    from agentville.sim.lab.sweep import EXIT_ALL_FAILED, load_sweep, run_sweep

    if args.workers is not None and args.workers < 1:
        raise UserError(f"--workers {args.workers}: needs at least 1 worker")
    for flag, name in (("--csv", args.csv), ("--parquet", args.parquet)):
        if name and not Path(name).absolute().parent.is_dir():
            raise UserError(f"{flag} {name}: no folder {Path(name).absolute().parent}")
    sweep = load_sweep(args.file)  # every problem before the first run starts
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


def _advance(bar: Any, row: dict[str, Any]) -> None:
    bar.update(1)
    bar.set_postfix_str(f"last: {row['status']}")


def pd_options() -> Any:
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 30)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Become ``streamlit run <agentville.dashboard.app> -- DB``: the server process replaces this one.

    Replacing the process (rather than calling Streamlit's CLI in-process)
    leaves this interpreter's arguments and environment untouched, and lets
    Ctrl-C and kill signals reach the server directly.
    """
    import importlib.util

    if args.db is not None and not Path(args.db).is_file():
        raise UserError(f"{args.db}: no such event store (make one with 'agentville run SCENARIO --db {args.db}')")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: not a port number")
    port_free(args.address, args.port)
    spec = importlib.util.find_spec("agentville.dashboard.app")
    if spec is None or spec.origin is None:
        raise UserError("the dashboard is not installed (agentville.dashboard.app is missing)")
    command = [sys.executable, "-m", "streamlit", "run", spec.origin, "--server.address", args.address,
               "--server.port", str(args.port), "--server.headless", "true" if args.headless else "false",
               "--browser.gatherUsageStats", "false", "--client.toolbarMode", "minimal",  # no "Deploy" button
               "--", *([str(Path(args.db).resolve())] if args.db else [])]
    env = {**os.environ, "AGENTVILLE_RUNS_DIR": str(Path(args.runs_dir).resolve())}
    print(f"Dashboard on http://{args.address}:{args.port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    sys.stdout.flush()
    os.execve(sys.executable, command, env)
    return 0  # not reached: the server has replaced this process


def port_free(address: str, port: int) -> None:
    """Refuse, before announcing the dashboard, an address and port another program already listens on."""
    import socket

    with socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: only a listener is in the way
        try:
            probe.bind((address, port))
        except OSError as exc:
            raise UserError(f"cannot serve the dashboard on {address}:{port}: {exc.strerror or exc} "
                            f"(is another dashboard running? pick another with --port)") from None


def cmd_runs(args: argparse.Namespace) -> int:
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
