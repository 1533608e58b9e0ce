"""``agentville fork``: a new run identical to a stored one up to a time, with other interventions after it."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from agentville.sim.core.clock import parse_until
from agentville.sim.core.errors import UserError

from .arguments import Commands, model_flags, open_store
from .running import relive, stored_run


def register(commands: Commands) -> None:
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
    model_flags(fork)
    fork.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    with open_store(args.db, read_only=False) as store:
        run, scenario, llm, cognition = stored_run(store, args)
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
        return relive(store, run, forked, llm, cognition, until, args, parent=run["run_id"],
                      fork_time=fork_time)


def _changed_interventions(path: str, scenario: Any) -> list:
    """The 'interventions' of a changes file, checked like a scenario's (file, index and field in errors)."""
    import yaml
    from pydantic import ValidationError

    from agentville.sim.core.controls import refuse_unsafe
    from agentville.sim.scenario.schema import InterventionSpec
    from agentville.sim.scenario.yamlpos import TEXTS

    try:
        changes = yaml.safe_load(Path(path).read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())  # one line, whatever the parser printed
        raise UserError(f"{path}: cannot read the changes: {reason}") from None
    if not isinstance(changes, dict) or set(changes) - {"interventions"}:
        raise UserError(f"{path}: a fork's changes may only hold 'interventions'")
    refuse_unsafe(changes, path, TEXTS.__contains__)
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
