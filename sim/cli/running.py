"""The commands that run simulations: run, resume and fork (all assembled by ``sim.runtime.runner``)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from agentville.sim.core.clock import parse_until
from agentville.sim.core.errors import GenerationError, UserError
from agentville.sim.core.events import FINISHED, RUNNING

from .reading import open_store


def cmd_run(args: argparse.Namespace) -> int:
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
                  cache_mode=args.llm_cache, scenario_path=args.scenario, scheduling=args.scheduling,
                  cognition=cognition_from(args, scenario.cognition)) as sim:
        summary = _run_with_progress(sim, until, args.no_progress, pace=args.pace)
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
    shape = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} sim h [{elapsed}<{remaining}{postfix}]"
    return SimBar(total=total, unit="h", desc=sim.scenario.name, dynamic_ncols=True, disable=None, bar_format=shape)


def format_summary(s: Any) -> str:
    """What the run did, and the commands to look at it, spelled to run as printed in this shell (``hints``)."""
    from agentville.sim.analysis.stats import answer_troubles, format_answer_troubles
    from agentville.sim.store.eventstore import EventStore

    from .hints import command

    hours = (s.sim_end - s.sim_start).total_seconds() / 3600
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(s.by_kind.items(), key=lambda kv: -kv[1]))
    with EventStore(s.db_path, read_only=True) as store:
        answers = format_answer_troubles(*answer_troubles(store, s.run_id))
    return "\n".join([
        f"Run {s.run_id} {s.status}",
        f"  simulated  {s.sim_start:%Y-%m-%d %H:%M} -> {s.sim_end:%Y-%m-%d %H:%M} ({hours:.1f} h) "
        f"in {s.wall_s:.1f} s of wall time",
        f"  agents     {s.agents}",
        f"  events     {s.events} ({kinds})",
        f"  LLM        {s.llm_calls} calls ({s.extra.get('cache_hits', 0)} from the cache), "
        f"{s.llm_blocked_s:.1f} s spent waiting for answers",
        f"  answers    {answers}",
        f"  log        {s.db_path}",
        f"Watch it:    {command('dashboard', s.db_path)}",
        f"Inspect it:  {command('events', s.db_path, '--kind', 'action')} | head",
        f"LLM usage:   {command('stats', s.db_path)}",
        f"In pandas:   from agentville.sim import EventStore; EventStore('{s.db_path}').events('{s.run_id}')",
    ])


def _stored_run(store: Any, args: argparse.Namespace) -> tuple[dict, Any, str, Any]:
    """A stored run with what it takes to re-live it: (run, scenario, backend name, cognition).

    The scenario is the copy stored with the run (a note on stderr when its file has changed since);
    ``run["scenario_path"]`` becomes the file's absolute path where it is found.
    """
    from agentville.sim.generation import backend_for_model
    from agentville.sim.scenario.schema import CognitionSpec
    from agentville.sim.scenario.stored import stored_scenario

    try:
        run = store.run(args.run)
    except LookupError as exc:
        raise UserError(str(exc)) from None
    stored = stored_scenario(run)
    if stored.warning:
        print(f"agentville: warning: {stored.warning}", file=sys.stderr)
    scenario, run["scenario_path"] = stored.scenario, stored.path
    settings = run["settings"]
    used = settings.get("llm", "")
    llm = args.llm or backend_for_model(used)
    if llm is None:
        raise UserError(f"run {run['run_id']} used the model {used!r}: pass --llm and --model to reach it again")
    cognition = CognitionSpec(**settings["cognition"]) if "cognition" in settings else scenario.cognition
    return run, scenario, llm, cognition


def _relive(store: Any, run: dict, scenario: Any, llm: str, cognition: Any, until: dt.datetime,
            args: argparse.Namespace, **start: Any) -> int:
    from agentville.sim.runtime.runner import open_run

    with open_run(scenario, store=store, seed=run["seed"], llm=llm, model=args.model, base_urls=args.base_url,
                  cognition=cognition, scenario_path=run["scenario_path"], scheduling=args.scheduling) as sim:
        summary = _run_with_progress(sim, until, args.no_progress, pace=args.pace, **start)
    print(format_summary(summary))
    return 0


def _run_with_progress(sim: Any, until: dt.datetime, disabled: bool, pace: float | None = None, **start: Any) -> Any:
    from agentville.sim.generation.embeddings import MiniLMEmbedder
    from agentville.sim.generation.models import quiet_weight_loading

    bar = _progress_bar(sim, until, disabled=disabled)
    if bar is not None and isinstance(sim.llm.embedder, MiniLMEmbedder):  # it loads mid-run, under our bar
        quiet_weight_loading()
    try:
        return sim.run(until, progress=bar.update_to if bar else None, pace=pace, **start)
    except GenerationError as exc:  # stopped on purpose: say where what was logged is
        raise GenerationError(f"{exc}; run {sim.run_id} is marked failed, everything logged so far is kept in "
                              f"{sim.store.path}") from None
    finally:
        if bar:
            bar.close()


def cmd_resume(args: argparse.Namespace) -> int:
    with open_store(args.db, read_only=False) as store:
        run, scenario, llm, cognition = _stored_run(store, args)
        if run["status"] in (FINISHED, RUNNING):
            raise UserError(f"run {run['run_id']} is {run['status']}: nothing to resume")
        until = dt.datetime.fromisoformat(run["sim_until"])
        print(f"Resuming {run['run_id']} ({run['status']}) to {until:%Y-%m-%d %H:%M}", file=sys.stderr)
        return _relive(store, run, scenario, llm, cognition, until, args, resume=run["run_id"])


def cmd_fork(args: argparse.Namespace) -> int:
    with open_store(args.db, read_only=False) as store:
        run, scenario, llm, cognition = _stored_run(store, args)
        at = parse_until(args.at, scenario.start, name="--at")
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

    from agentville.sim.scenario.schema import InterventionSpec

    try:
        changes = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the parser printed
        raise UserError(f"{path}: cannot read the changes: {reason}") from None
    if not isinstance(changes, dict) or set(changes) - {"interventions"}:
        raise UserError(f"{path}: a fork's changes may only hold 'interventions'")
    items = changes.get("interventions") or []
    if not isinstance(items, list):
        raise UserError(f"{path}: interventions: a list of interventions (got {type(items).__name__})")
    names = {p.name for p in scenario.personas}
    found = []
    for i, item in enumerate(items):
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
