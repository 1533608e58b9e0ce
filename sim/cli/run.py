"""``agentville run``: run a scenario headless and log every event to a SQLite store."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from agentville.sim.core.clock import parse_until
from agentville.sim.core.errors import UserError

from .arguments import Commands, pace_flag, scheduling_flag, seed_value, server_flags
from .running import format_summary, run_with_progress


def register(commands: Commands) -> None:
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
    server_flags(run)
    run.add_argument("--llm-cache", default="read-write", choices=["read-write", "read-only", "off"],
                     help="answers cache in the store: read-only replays a run without loading a model "
                          "(default: read-write)")
    ablations = run.add_argument_group("ablations (override the scenario's cognition section)")
    ablations.add_argument("--no-memory", action="store_true",
                           help="agents recall nothing and do not reflect: they act from their persona alone")
    ablations.add_argument("--no-retrieval", action="store_true",
                           help="agents recall only their most recent memories, not the best-scoring ones")
    ablations.add_argument("--no-reflection", action="store_true", help="agents never reflect")
    ablations.add_argument("--no-planning", action="store_true",
                           help="agents do not plan their day; they choose each next activity as they go")
    ablations.add_argument("--importance", choices=["auto", "model", "embedding"], default=None,
                           help="who rates how important each memory is: the model, an estimator over its "
                                "embedding, or auto: the model if its ratings of labelled examples follow them")
    scheduling_flag(run)
    pace_flag(run)
    run.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")
    run.add_argument("--evaluate", action="store_true",
                     help="at the end, interview the residents and grade their answers (as 'agentville evaluate')")
    run.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    from agentville.sim.generation import backend_kind, check_backend, model_id_for
    from agentville.sim.runtime.runner import backend_name, open_run
    from agentville.sim.scenario import load_scenario

    scenario = load_scenario(args.scenario)
    until = parse_until(args.until, scenario.start) if args.until else (
        scenario.end or scenario.start + dt.timedelta(days=1))
    llm = backend_name(scenario.generation, args.llm)
    db = Path(args.db) if args.db else Path("runs") / f"{Path(args.scenario).stem}.db"
    replay = args.llm_cache == "read-only"
    if replay and not db.is_file():
        raise UserError(f"--llm-cache read-only replays answers cached in {db}, which does not exist")
    model = check_backend(llm, args.model or scenario.generation.model)
    if backend_kind(llm).loads_model and not replay:
        print(f"Loading {model_id_for(llm, model)} ...", file=sys.stderr, flush=True)
    with open_run(scenario, db=db, seed=args.seed, llm=llm, model=args.model, base_urls=args.base_url,
                  api_key_env=args.api_key_env, cache_mode=args.llm_cache, scenario_path=args.scenario,
                  scheduling=args.scheduling,
                  cognition=cognition_from(args, scenario.cognition)) as sim:
        summary = run_with_progress(sim, until, args.no_progress, pace=args.pace)
    evaluation = None
    if args.evaluate and summary.status == "finished":
        from agentville.sim.lab.evaluation import evaluate_run

        evaluation = evaluate_run(db, summary.run_id, llm=llm, model=args.model, base_urls=args.base_url,
                                  api_key_env=args.api_key_env)
    print(format_summary(summary, evaluation, scenario))
    return 0


def cognition_from(args: argparse.Namespace, cognition: Any) -> Any:
    """The scenario's cognition settings with the command line's ablation switches applied."""
    changed: dict[str, Any] = {name: False for name in ("memory", "retrieval", "reflection", "planning")
                               if getattr(args, f"no_{name}")}
    if args.importance:
        changed["importance"] = args.importance
    return cognition.model_copy(update=changed)
