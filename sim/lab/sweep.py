"""Sweeps: the same scenario over a grid of seeds x settings, each run in its own store.

A sweep file:

    scenario: worlds/the_ville_3.yaml
    until: +6h
    llm: fake                 # optional: backend / model for every run
    seeds: [1, 2]
    grid:                     # every combination of these (cognition switches and parameters, or model)
      reflection: [true, false]
    out: runs/sweep           # one store per run, and results.csv
    evaluate: true            # optional: interview each run's residents at its end (the score columns)

Relative paths (``scenario``, ``out``; ``out`` defaults to ``runs/<sweep name>``)
are read from the sweep file's folder, wherever the command is run from.
``load_sweep`` checks the whole file before any run starts (the scenario, ``until``
against its start, seeds, each grid value as the scenario's cognition section
would be checked); each problem is one line ``FILE:LINE: field: what``.

Runs go to local worker processes, or to a Ray cluster (``ray`` is an
optional extra). A run that fails is a row with its error; the sweep goes on.
``agentville sweep`` exits 0 if any run finished, 1 if every run failed, 2 for
a bad sweep file.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import ValidationError

from agentville.sim.analysis.questions import CATEGORIES
from agentville.sim.core import events
from agentville.sim.core.clock import parse_until
from agentville.sim.core.errors import Problem, ScenarioError, UserError
from agentville.sim.core.location import suggest
from agentville.sim.generation import BACKENDS, KINDS
from agentville.sim.generation.registry import log as announcer
from agentville.sim.scenario import MAX_SEED, CognitionSpec, load_scenario, schema_message, yamlpos

FIELDS = ("scenario", "until", "llm", "model", "seeds", "grid", "out", "evaluate")
EXIT_ALL_FAILED = 1  # `agentville sweep`'s exit code when not one run finished (a bad sweep file: 2)
RESULT_COLUMNS = ["run", "seed", "status", "events", "llm_calls", "tokens", "conversations", "reflections",
                  "memories", *(f"score {c}" for c in (*CATEGORIES, "all")), "made-up names", "error"]


@dataclass
class Sweep:
    scenario: str
    until: str
    out: Path
    seeds: list[int] = field(default_factory=lambda: [0])
    grid: dict[str, list[Any]] = field(default_factory=dict)
    llm: str | None = None
    model: str | None = None
    evaluate: bool = False

    def runs(self) -> list[dict[str, Any]]:
        """One spec per (seed, combination), numbered in a stable order."""
        keys = sorted(self.grid)
        combos = list(itertools.product(*(self.grid[k] for k in keys))) or [()]
        specs: list[dict[str, Any]] = []
        for seed, combo in itertools.product(self.seeds, combos):
            index = len(specs)
            specs.append({"run": index, "seed": seed, "params": dict(zip(keys, combo)), "scenario": self.scenario,
                          "until": self.until, "llm": self.llm, "model": self.model, "evaluate": self.evaluate,
                          "db": str(self.out / f"run-{index:03d}.db")})
        return specs


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a whole sweep file before any run starts, so that no sweep fails run by run.

    The scenario is loaded, ``until`` read against its start, and every grid value checked as the
    scenario's own cognition settings are. Problems are one line each, ``FILE:LINE: field: what``
    (a ScenarioError, as for scenarios). Relative paths are read from the sweep file's folder.
    """
    path = Path(path)
    located = yamlpos.load(yamlpos.read_text(path, "sweep"), str(path), "sweep")
    raw = located.data
    if not isinstance(raw, dict):
        raise ScenarioError([located.problem((), "a sweep is a mapping (scenario, until, seeds, grid, out)")])
    problems: list[Problem] = []

    def bad(where: tuple[Any, ...], message: str) -> None:
        problems.append(located.problem(where, message))

    for name in raw:
        if name not in FIELDS:
            bad((name,), f"unknown field '{name}'{suggest(str(name), FIELDS)} (fields: {', '.join(FIELDS)})")
    folder = path.parent.absolute()
    scenario, loaded = _scenario(raw.get("scenario"), folder, bad), None
    if scenario is not None:
        try:
            loaded = load_scenario(scenario)
        except ScenarioError as exc:
            problems += exc.problems
    until = raw.get("until")
    if until is None or until == "":
        bad(("until",), "missing required field (+6h after the scenario's start, or a date-time)")
    elif loaded is not None:
        try:
            parse_until(str(until), loaded.start, name="")
        except UserError as exc:
            bad(("until",), str(exc))
    llm, model = raw.get("llm"), raw.get("model")
    if llm is not None and llm not in BACKENDS:
        bad(("llm",), f"unknown backend {llm!r} (one of {', '.join(BACKENDS)})")
    if model is not None and not (isinstance(model, str) and model.strip()):
        bad(("model",), f"must be a model name or path (got {model!r})")
    seeds = _seeds(raw.get("seeds", [0]), bad)
    grid = _grid(raw.get("grid"), bad)
    out = _out(raw.get("out", f"runs/{path.stem}"), folder, bad)
    evaluate = raw.get("evaluate", False)
    if not isinstance(evaluate, bool):
        bad(("evaluate",), f"true or false (got {evaluate!r})")
    if loaded is not None:  # what every run would fail on
        _backend_problems(llm or loaded.generation.backend, ("llm",) if llm else ("scenario",),
                          model or "model" in grid or loaded.generation.model, loaded.generation.base_urls, bad)
    if problems:
        raise ScenarioError(problems)
    return Sweep(scenario=str(scenario), until=str(until), out=out, seeds=seeds, grid=grid, llm=llm, model=model,
                 evaluate=evaluate is True)


Bad = Callable[[tuple[Any, ...], str], None]


def _backend_problems(backend: Any, where: tuple[str], model: Any, servers: list[str], bad: Bad) -> None:
    """What ``make_backend`` would refuse in every run: a backend that needs a model or a server without one."""
    kind = KINDS.get(backend) if isinstance(backend, str) else None
    if kind is not None and kind.needs_model and not model:
        bad(where, f"{backend} needs a model: set model: (or grid.model), or generation.model in the scenario")
    if kind is not None and kind.needs_server and not servers:
        bad(where, f"{backend} needs a server: set generation.base_urls in the scenario")


def _scenario(value: Any, folder: Path, bad: Bad) -> Path | None:
    """The scenario file, relative to the sweep's folder (a hint when it is relative to the working directory)."""
    if value is None or value == "":
        bad(("scenario",), "missing required field (the scenario file to run)")
        return None
    if not isinstance(value, str):
        bad(("scenario",), f"must be the path of a scenario file (got {value!r})")
        return None
    scenario = folder / value
    if scenario.is_file():
        return scenario
    hint = ""
    if Path(value).is_file():
        better = min(os.path.relpath(value, folder), os.path.abspath(value), key=len)
        hint = f"; relative paths are read from the sweep file's folder: write {better!r}"
    bad(("scenario",), f"no such file {value!r} in {folder}{hint}")
    return None


def _seeds(value: Any, bad: Bad) -> list[int]:
    if not isinstance(value, list) or not value:
        bad(("seeds",), f"must be a non-empty list of whole numbers, like [1, 2, 3] (got {value!r})")
        return []
    for i, seed in enumerate(value):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            bad(("seeds", i), f"a seed is a whole number from 0 to {MAX_SEED} (got {seed!r})")
        elif seed in value[:i]:
            bad(("seeds", i), f"seed {seed} is listed twice")
    return value


def _grid(value: Any, bad: Bad) -> dict[str, list[Any]]:
    """Grid values checked and converted exactly as the scenario's cognition settings are."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        bad(("grid",), "must be a mapping of setting: [values, ...]")
        return {}
    allowed = [*CognitionSpec.model_fields, "model"]
    grid: dict[str, list[Any]] = {}
    for key, values in value.items():
        if key not in allowed:
            bad(("grid", key), f"not a cognition setting or 'model'{suggest(str(key), allowed)} "
                               f"(one of {', '.join(sorted(allowed))})")
        elif not isinstance(values, list) or not values:
            bad(("grid", key), f"needs a non-empty list of values, like [a, b] (got {values!r})")
        else:
            grid[key] = [_grid_value(key, v, ("grid", key, i), bad) for i, v in enumerate(values)]
            for i, v in enumerate(grid[key]):
                if v in grid[key][:i]:
                    bad(("grid", key, i), f"{values[i]!r} is listed twice")
    return grid


def _grid_value(key: str, value: Any, where: tuple[Any, ...], bad: Bad) -> Any:
    """One grid value, as the scenario's own cognition section would read it (a model: a name)."""
    if key == "model":
        if not (isinstance(value, str) and value.strip()):
            bad(where, f"must be a model name or path (got {value!r})")
        return value
    try:
        return getattr(CognitionSpec.model_validate({key: value}), key)
    except ValidationError as exc:
        bad(where, schema_message(exc.errors()[0], [key]))
        return value


def _out(value: Any, folder: Path, bad: Bad) -> Path:
    """The folder for the stores and results.csv; relative to the sweep's folder, like the scenario."""
    if not isinstance(value, str) or not value.strip():
        bad(("out",), f"must be the path of a folder (got {value!r})")
        return folder
    out = folder / value
    existing = next((p for p in (out, *out.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():
        bad(("out",), f"{existing} is a file, not a folder" + ("" if existing == out else f" (in {out})"))
    return out


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one grid point into its own store and summarise it (never raises: a failure is a row)."""
    from agentville.sim.runtime.runner import open_run

    row: dict[str, Any] = {"run": spec["run"], "seed": spec["seed"], **spec["params"]}
    started = time.monotonic()
    level = announcer.level
    announcer.setLevel(logging.ERROR)  # the sweep said once where requests go, not once per run
    try:
        scenario = load_scenario(spec["scenario"], quiet=True)  # its warnings were shown once, by load_sweep
        params = dict(spec["params"])
        model = params.pop("model", spec.get("model"))
        Path(spec["db"]).unlink(missing_ok=True)
        with open_run(scenario, db=spec["db"], seed=spec["seed"], llm=spec.get("llm"), model=model,
                      cognition=params, scenario_path=spec["scenario"]) as sim:
            summary = sim.run(parse_until(spec["until"], scenario.start))
            calls = sim.store.events(summary.run_id, kinds=[events.LLM_CALL])
        row.update(status=summary.status, events=summary.events, llm_calls=len(calls),
                   tokens=int(sum(d["prompt_tokens"] + d["output_tokens"] for d in calls.data)),
                   conversations=summary.by_kind.get(events.CONVERSATION_END, 0),
                   reflections=summary.by_kind.get(events.REFLECTION, 0),
                   memories=summary.by_kind.get(events.MEMORY, 0), error=None)
        if spec.get("evaluate") and summary.status == events.FINISHED:
            row.update(_scores(spec["db"], summary.run_id, spec.get("llm"), model))
    except Exception as exc:  # reported in the table; the sweep goes on
        row.update(status=events.FAILED, error=f"{type(exc).__name__}: {exc}")
    finally:
        announcer.setLevel(level)
    row["wall_s"] = round(time.monotonic() - started, 2)
    row["db"] = spec["db"]
    return row


def _scores(db: str, run_id: str, llm: str | None, model: str | None) -> dict[str, Any]:
    """A finished run's interview scores per category and its share of made-up names (``sim.lab.evaluation``)."""
    from .evaluation import evaluate_run

    found = evaluate_run(db, run_id, llm=llm, model=model)
    scores = {f"score {row.category}": row.score for row in found.categories.itertuples()}
    return scores | {"made-up names": found.hallucination_rate}


def run_sweep(sweep: Sweep, *, workers: int | None = None, ray_address: str | None = None,
              progress: Callable[[dict[str, Any]], None] | None = None) -> pd.DataFrame:
    """Every run of the sweep, locally (worker processes) or on Ray; one tidy row per run, in run order."""
    sweep.out.mkdir(parents=True, exist_ok=True)
    specs = sweep.runs()
    rows = []
    if ray_address is not None:
        rows = _on_ray(specs, ray_address, progress)
    else:
        workers = workers or min(len(specs), os.cpu_count() or 1)
        with concurrent.futures.ProcessPoolExecutor(max_workers=workers) as pool:
            for row in pool.map(run_one, specs):
                rows.append(row)
                if progress:
                    progress(row)
    table = pd.DataFrame(rows).sort_values("run").reset_index(drop=True)
    keys = ["run", "seed", *sorted(sweep.grid)]
    rest = [c for c in RESULT_COLUMNS if c not in keys] + ["wall_s", "db"]
    return table[[c for c in keys + rest if c in table.columns]]


def _on_ray(specs: list[dict[str, Any]], address: str, progress) -> list[dict[str, Any]]:
    try:
        import ray
    except ImportError:
        raise UserError("--ray needs the ray package: pip install 'agentville[ray]'") from None
    if not ray.is_initialized():
        ray.init(address=None if address == "local" else address, ignore_reinit_error=True, log_to_driver=False)
    remote = ray.remote(run_one)
    pending = [remote.remote(spec) for spec in specs]
    rows = []
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        row = ray.get(done[0])
        rows.append(row)
        if progress:
            progress(row)
    return rows
