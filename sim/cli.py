"""``agentville``: run, check and inspect simulations from the shell.

Every user mistake ends as one readable line on stderr and exit code 2; a
traceback means a bug in Agentville, not in the user's input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any, Sequence

from . import __version__
from .clock import parse_until
from .errors import ScenarioError, UserError
from .events import FINISHED, RUNNING

EXIT_USAGE = 2
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
    except (UserError, LookupError, FileNotFoundError) as exc:
        print(f"agentville: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except sqlite3.DatabaseError as exc:
        print(f"agentville: error: {getattr(args, 'db', '')} is not a readable event store ({exc})", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nagentville: interrupted; everything logged so far is kept", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `agentville events DB | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
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
    run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    run.add_argument("--llm", default=None, metavar="BACKEND",
                     help="language model backend: embedded (Gemma 3 270M on this machine; the default), "
                          "transformers (any HF model id, directory or .gguf via --model), openai (any "
                          "OpenAI-compatible server via --base-url), fake (deterministic test double)")
    run.add_argument("--model", default=None, help="model for --llm transformers|openai (overrides the scenario)")
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
               "  agentville events runs/the_ville_3.db --csv events.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    events.add_argument("db", metavar="DB", help="event store written by 'agentville run'")
    events.add_argument("--run", default=None, metavar="ID", help="run id or unique prefix (default: newest run)")
    events.add_argument("--kind", action="append", metavar="KIND", help="only these kinds (repeatable)")
    events.add_argument("--agent", default=None, help="only this agent's events")
    events.add_argument("--limit", type=int, default=None, metavar="N", help="print at most N events")
    output = events.add_mutually_exclusive_group()
    output.add_argument("--csv", metavar="FILE", help="write CSV to FILE ('-' for stdout)")
    output.add_argument("--parquet", metavar="FILE", help="write Parquet to FILE")
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
                    "a row with its error). See README.md, 'Sweeps'.")
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
    return parser


# -- run -------------------------------------------------------------------
def cmd_run(args: argparse.Namespace) -> int:
    from .generation import check_backend, model_id_for
    from .runner import backend_name, open_run
    from .scenario import load_scenario

    scenario = load_scenario(args.scenario)
    until = parse_until(args.until, scenario.start) if args.until else (
        scenario.end or scenario.start + dt.timedelta(days=1))
    llm = backend_name(scenario.generation, args.llm)
    db = Path(args.db) if args.db else Path("runs") / f"{Path(args.scenario).stem}.db"
    replay = args.llm_cache == "read-only"
    if replay and not db.is_file():
        raise UserError(f"--llm-cache read-only replays answers cached in {db}, which does not exist")
    model = check_backend(llm, args.model or scenario.generation.model)
    if llm in ("embedded", "transformers") and not replay:
        print(f"Loading {model_id_for(llm, model)} ...", file=sys.stderr, flush=True)
    with open_run(scenario, db=db, seed=args.seed, llm=llm, model=args.model, base_urls=args.base_url,
                  cache_mode=args.llm_cache, scenario_path=args.scenario,
                  cognition=cognition_from(args, scenario.cognition)) as sim:
        summary = _run_with_progress(sim, until, args.no_progress)
    print(format_summary(summary))
    return 0


def cognition_from(args: argparse.Namespace, cognition: Any) -> Any:
    """The scenario's cognition settings with the command line's ablation switches applied."""
    off = {name: False for name in ("retrieval", "reflection", "planning") if getattr(args, f"no_{name}")}
    return cognition.model_copy(update=off)


def _progress_bar(sim: Any, until: dt.datetime, disabled: bool) -> Any:
    """A tqdm bar in simulated hours, showing the simulated clock and event count."""
    if disabled:
        return None
    from tqdm import tqdm

    class SimBar(tqdm):
        def update_to(self, reached: float, end: float) -> None:
            self.set_postfix_str(f"{sim.clock.at(reached):%a %H:%M}, {sim.events_logged} events", refresh=False)
            self.update(round(reached / 3600, 3) - self.n)

    total = round(sim.clock.seconds(until) / 3600, 3)
    return SimBar(total=total, unit="h", desc=sim.scenario.name, dynamic_ncols=True, disable=None,
                  bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} sim h [{elapsed}<{remaining}{postfix}]")


def format_summary(s: Any) -> str:
    hours = (s.sim_end - s.sim_start).total_seconds() / 3600
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(s.by_kind.items(), key=lambda kv: -kv[1]))
    return "\n".join([
        f"Run {s.run_id} {s.status}",
        f"  simulated  {s.sim_start:%Y-%m-%d %H:%M} -> {s.sim_end:%Y-%m-%d %H:%M} ({hours:.1f} h) "
        f"in {s.wall_s:.1f} s of wall time",
        f"  agents     {s.agents}",
        f"  events     {s.events} ({kinds})",
        f"  LLM        {s.llm_calls} calls ({s.extra.get('cache_hits', 0)} from the cache), "
        f"{s.llm_blocked_s:.1f} s spent waiting for answers",
        f"  log        {s.db_path}",
        f"Watch it:    agentville dashboard {s.db_path}",
        f"Inspect it:  agentville events {s.db_path} --kind action | head",
        f"LLM usage:   agentville stats {s.db_path}",
        f"In pandas:   from agentville.sim.store import EventStore; EventStore('{s.db_path}').events('{s.run_id}')",
    ])


# -- validate --------------------------------------------------------------
def cmd_validate(args: argparse.Namespace) -> int:
    from .scenario import load_scenario

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


# -- events / runs -----------------------------------------------------------
def _open_store(db: str, read_only: bool = True):
    from .store import EventStore

    if not Path(db).is_file():
        raise UserError(f"{db}: no such event store")
    return EventStore(db, read_only=read_only)


def cmd_events(args: argparse.Namespace) -> int:
    with _open_store(args.db) as store:
        frame = store.events(args.run, kinds=args.kind, agent=args.agent)
    if args.limit is not None:
        frame = frame.head(args.limit)
    if args.csv or args.parquet:
        import json

        flat = frame.assign(data=frame["data"].map(lambda d: json.dumps(d, ensure_ascii=False)),
                            wall=frame["wall"].map(lambda w: json.dumps(w) if w else None))
        if args.csv:
            flat.to_csv(sys.stdout if args.csv == "-" else args.csv, index=False)
        else:
            flat.to_parquet(args.parquet, index=False)
        if args.csv != "-":
            print(f"wrote {len(flat)} events to {args.csv or args.parquet}", file=sys.stderr)
        return 0
    for row in frame.itertuples():
        details = "  ".join(f"{k}={_short(v)}" for k, v in row.data.items() if k != "prompt")
        print(f"{row.time:%Y-%m-%d %H:%M:%S}  {row.kind:<13} {row.agent if isinstance(row.agent, str) else '-':<20} {details}")
    return 0


def _short(value: Any, width: int = 80) -> str:
    text = str(value).replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_stats(args: argparse.Namespace) -> int:
    from .stats import llm_stats, format_llm_stats

    with _open_store(args.db) as store:
        run = store.run(args.run)
        frame = store.events(run["run_id"], kinds=["llm_call"])
    print(f"Run {run['run_id']} ({run['scenario']}, seed {run['seed']}, {run['status']}), "
          f"model {run['settings'].get('llm', '?')}")
    print(format_llm_stats(llm_stats(frame)))
    return 0


def _model_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--llm", default=None, metavar="BACKEND",
                        help="backend, when the stored run's cannot be inferred (fake and embedded can)")
    parser.add_argument("--model", default=None, help="model for --llm transformers|openai")
    parser.add_argument("--base-url", action="append", default=None, metavar="URL", help="openai server(s)")
    parser.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")


def _stored_run(store: Any, args: argparse.Namespace) -> tuple[dict, Any, str, Any]:
    """A stored run with what it takes to re-live it: (run, scenario, backend name, cognition)."""
    from .scenario import CognitionSpec, load_scenario

    try:
        run = store.run(args.run)
    except LookupError as exc:
        raise UserError(str(exc)) from None
    path = run.get("scenario_path")
    if not path or not Path(path).is_file():
        raise UserError(f"run {run['run_id']}: its scenario file {path!r} is gone; it cannot be re-lived")
    scenario = load_scenario(path)
    settings = run["settings"]
    used = settings.get("llm", "")
    llm = args.llm or ("fake" if used == "fake" else "embedded" if used.startswith("embedded:") else None)
    if llm is None:
        raise UserError(f"run {run['run_id']} used the model {used!r}: pass --llm and --model to reach it again")
    cognition = CognitionSpec(**settings["cognition"]) if "cognition" in settings else scenario.cognition
    return run, scenario, llm, cognition


def _relive(store: Any, run: dict, scenario: Any, llm: str, cognition: Any, until: dt.datetime,
            args: argparse.Namespace, **start: Any) -> int:
    from .runner import open_run

    with open_run(scenario, store=store, seed=run["seed"], llm=llm, model=args.model, base_urls=args.base_url,
                  cognition=cognition, scenario_path=run["scenario_path"]) as sim:
        summary = _run_with_progress(sim, until, args.no_progress, **start)
    print(format_summary(summary))
    return 0


def _run_with_progress(sim: Any, until: dt.datetime, disabled: bool, **start: Any) -> Any:
    bar = _progress_bar(sim, until, disabled=disabled)
    try:
        return sim.run(until, progress=bar.update_to if bar else None, **start)
    finally:
        if bar:
            bar.close()


def cmd_resume(args: argparse.Namespace) -> int:
    with _open_store(args.db, read_only=False) as store:
        run, scenario, llm, cognition = _stored_run(store, args)
        if run["status"] in (FINISHED, RUNNING):
            raise UserError(f"run {run['run_id']} is {run['status']}: nothing to resume")
        until = dt.datetime.fromisoformat(run["sim_until"])
        print(f"Resuming {run['run_id']} ({run['status']}) to {until:%Y-%m-%d %H:%M}", file=sys.stderr)
        return _relive(store, run, scenario, llm, cognition, until, args, resume=run["run_id"])


def cmd_fork(args: argparse.Namespace) -> int:
    with _open_store(args.db, read_only=False) as store:
        run, scenario, llm, cognition = _stored_run(store, args)
        at = parse_until(args.at, scenario.start)
        until = parse_until(args.until, scenario.start) if args.until else dt.datetime.fromisoformat(run["sim_until"])
        if not scenario.start < at < until:
            raise UserError(f"--at {args.at}: must fall between the start ({scenario.start:%Y-%m-%d %H:%M}) and "
                            f"the end ({until:%Y-%m-%d %H:%M})")
        kept = [i for i in scenario.interventions if i.at <= at]
        later = [i for i in scenario.interventions if i.at > at]
        if args.scenario:
            later = [i for i in _changed_interventions(args.scenario, scenario) if i.at > at]
        forked = scenario.model_copy(update={"interventions": kept + later})
        fork_time = (at - scenario.start).total_seconds()
        print(f"Forking {run['run_id']} at {at:%Y-%m-%d %H:%M} ({len(later)} interventions after it)",
              file=sys.stderr)
        return _relive(store, run, forked, llm, cognition, until, args, parent=run["run_id"],
                       fork_time=fork_time)


def _changed_interventions(path: str, scenario: Any) -> list:
    """The 'interventions' of a changes file, checked like a scenario's (file, index and field in errors)."""
    import yaml
    from pydantic import ValidationError

    from .scenario import InterventionSpec

    try:
        changes = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the changes: {exc}") from None
    if not isinstance(changes, dict) or set(changes) - {"interventions"}:
        raise UserError(f"{path}: a fork's changes may only hold 'interventions'")
    names = {p.name for p in scenario.personas}
    found = []
    for i, item in enumerate(changes.get("interventions") or []):
        try:
            spec = InterventionSpec(**item) if isinstance(item, dict) else InterventionSpec.model_validate(item)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = ".".join(str(x) for x in error["loc"])
            raise UserError(f"{path}: interventions.{i}.{field}: {error['msg']}") from None
        if spec.agent not in names:
            raise UserError(f"{path}: interventions.{i}.agent: unknown persona '{spec.agent}'")
        found.append(spec)
    return found


def cmd_sweep(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .sweep import load_sweep, run_sweep

    sweep = load_sweep(args.file)
    total = len(sweep.runs())
    with tqdm(total=total, unit="run", desc=Path(args.file).stem, disable=args.no_progress or None) as bar:
        table = run_sweep(sweep, workers=args.workers, ray_address=args.ray,
                          progress=lambda row: (bar.update(1), bar.set_postfix_str(f"last: {row['status']}")))
    csv = Path(args.csv) if args.csv else sweep.out / "results.csv"
    table.to_csv(csv, index=False)
    if args.parquet:
        table.to_parquet(args.parquet, index=False)
    with pd_options():
        print(table.drop(columns=["db"]).to_string(index=False))
    failed = int((table["status"] != FINISHED).sum())
    print(f"{total} runs, {failed} failed; results: {csv}" + (f", {args.parquet}" if args.parquet else ""))
    return 0


def pd_options() -> Any:
    import pandas as pd

    return pd.option_context("display.width", 200, "display.max_columns", 30)


def cmd_dashboard(args: argparse.Namespace) -> int:
    """Hand over to Streamlit's own command line (``streamlit run dashboard/app.py -- DB``)."""
    from streamlit.web import cli as streamlit_cli

    if args.db is not None and not Path(args.db).is_file():
        raise UserError(f"{args.db}: no such event store (make one with 'agentville run SCENARIO --db {args.db}')")
    if not 0 < args.port < 65536:
        raise UserError(f"--port {args.port}: not a port number")
    app = Path(__file__).resolve().parent.parent / "dashboard" / "app.py"
    os.environ["AGENTVILLE_RUNS_DIR"] = str(Path(args.runs_dir).resolve())
    sys.argv = ["streamlit", "run", str(app), "--server.address", args.address, "--server.port", str(args.port),
                "--server.headless", "true" if args.headless else "false", "--browser.gatherUsageStats", "false",
                "--", *([str(Path(args.db).resolve())] if args.db else [])]
    print(f"Dashboard on http://{args.address}:{args.port} (Ctrl-C to stop)", file=sys.stderr, flush=True)
    return streamlit_cli.main(prog_name="streamlit") or 0


def cmd_runs(args: argparse.Namespace) -> int:
    with _open_store(args.db) as store:
        runs = store.runs()
        counts = {r["run_id"]: store.count_events(r["run_id"]) for r in runs}
    if not runs:
        print(f"{args.db}: no runs")
    for r in runs:
        print(f"{r['run_id']}  {r['status']:<11} {r['scenario']}  seed {r['seed']}  "
              f"{counts[r['run_id']]} events  started {r['started_at']}"
              + (f"  error: {r['error']}" if r.get("error") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
