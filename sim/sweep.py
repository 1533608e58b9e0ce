"""Sweeps: the same scenario over a grid of seeds x settings, each run in its own store.

A sweep file:

    scenario: worlds/the_ville_3.yaml
    until: +6h
    llm: fake                 # optional: backend / model for every run
    seeds: [1, 2]
    grid:                     # every combination of these (cognition switches and parameters, or model)
      reflection: [true, false]
    out: runs/sweep           # one store per run, and results.csv

Runs go to local worker processes, or to a Ray cluster (``ray`` is an
optional extra). A run that fails is a row with its error; the sweep goes on.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import events
from .errors import UserError

RESULT_COLUMNS = ["run", "seed", "status", "events", "llm_calls", "tokens", "conversations", "reflections",
                  "memories", "error"]


@dataclass
class Sweep:
    scenario: str
    until: str
    out: Path
    seeds: list[int] = field(default_factory=lambda: [0])
    grid: dict[str, list[Any]] = field(default_factory=dict)
    llm: str | None = None
    model: str | None = None

    def runs(self) -> list[dict[str, Any]]:
        """One spec per (seed, combination), numbered in a stable order."""
        keys = sorted(self.grid)
        combos = list(itertools.product(*(self.grid[k] for k in keys))) or [()]
        specs: list[dict[str, Any]] = []
        for seed, combo in itertools.product(self.seeds, combos):
            index = len(specs)
            specs.append({"run": index, "seed": seed, "params": dict(zip(keys, combo)), "scenario": self.scenario,
                          "until": self.until, "llm": self.llm, "model": self.model,
                          "db": str(self.out / f"run-{index:03d}.db")})
        return specs


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; problems are one line naming the file and the field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"{path}: cannot read the sweep: {exc}") from None
    if not isinstance(raw, dict):
        raise UserError(f"{path}: a sweep is a mapping (scenario, until, seeds, grid, out)")
    unknown = set(raw) - {"scenario", "until", "seeds", "grid", "out", "llm", "model"}
    if unknown:
        raise UserError(f"{path}: unknown field(s) {', '.join(sorted(unknown))}")
    for name in ("scenario", "until"):
        if not raw.get(name):
            raise UserError(f"{path}: {name}: required")
    scenario = (path.parent / raw["scenario"]) if not Path(raw["scenario"]).is_absolute() else Path(raw["scenario"])
    if not scenario.is_file():
        scenario = Path(raw["scenario"])
    if not scenario.is_file():
        raise UserError(f"{path}: scenario: no such file {raw['scenario']!r}")
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not all(isinstance(s, int) for s in seeds):
        raise UserError(f"{path}: seeds: must be a list of integers")
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict) or not all(isinstance(v, list) and v for v in grid.values()):
        raise UserError(f"{path}: grid: each parameter needs a non-empty list of values")
    from .scenario import CognitionSpec

    allowed = set(CognitionSpec.model_fields) | {"model"}
    for name in grid:
        if name not in allowed:
            raise UserError(f"{path}: grid.{name}: not a cognition setting or 'model' "
                            f"(one of {', '.join(sorted(allowed))})")
    out = Path(raw.get("out") or f"runs/{path.stem}")
    return Sweep(scenario=str(scenario), until=str(raw["until"]), out=out, seeds=seeds, grid=grid,
                 llm=raw.get("llm"), model=raw.get("model"))


def run_one(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one grid point into its own store and summarise it (never raises: a failure is a row)."""
    from .clock import parse_until
    from .runner import open_run
    from .scenario import load_scenario

    row: dict[str, Any] = {"run": spec["run"], "seed": spec["seed"], **spec["params"]}
    started = time.monotonic()
    try:
        scenario = load_scenario(spec["scenario"])
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
    except Exception as exc:  # reported in the table; the sweep goes on
        row.update(status=events.FAILED, error=f"{type(exc).__name__}: {exc}")
    row["wall_s"] = round(time.monotonic() - started, 2)
    row["db"] = spec["db"]
    return row


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
