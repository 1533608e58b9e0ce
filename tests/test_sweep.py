"""Sweeps: a 2x2 grid locally and on Ray gives the same table; failures are rows."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from agentville.sim.sweep import load_sweep, run_sweep
from tests.conftest import ROOT, WORLDS

SWEEP = """\
scenario: {scenario}
until: +8h
llm: fake
seeds: [1, 2]
grid:
  reflection_threshold: [20, 150]
out: {out}
"""


def sweep_file(tmp_path, name="grid.yaml", scenario=WORLDS / "the_ville_3.yaml"):
    path = tmp_path / name
    path.write_text(SWEEP.format(scenario=scenario, out=tmp_path / name.replace(".yaml", "")))
    return path


def comparable(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=["wall_s", "db"])


def test_a_local_sweep_runs_every_grid_point_into_its_own_store(tmp_path):
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "sweep", str(sweep_file(tmp_path)), "--no-progress",
                           "--parquet", str(tmp_path / "r.parquet")], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(tmp_path / "grid" / "results.csv")
    assert list(table["run"]) == [0, 1, 2, 3] and list(table["seed"]) == [1, 1, 2, 2]
    assert list(table["reflection_threshold"]) == [20, 150, 20, 150]
    assert (table["status"] == "finished").all() and (table["events"] > 100).all()
    assert (table.loc[table.reflection_threshold == 20, "reflections"].values
            >= table.loc[table.reflection_threshold == 150, "reflections"].values).all()
    assert len({p.name for p in (tmp_path / "grid").glob("run-*.db")}) == 4
    assert pd.read_parquet(tmp_path / "r.parquet").shape == table.shape
    assert "4 runs, 0 failed" in done.stdout


def test_a_failed_run_is_a_row_and_the_sweep_goes_on(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path))
    sweep.grid = {"model": ["fake-model-that-does-not-exist"]}
    sweep.llm = "openai"  # no server anywhere: every run fails cleanly
    sweep.seeds = [1]
    table = run_sweep(sweep, workers=1)
    assert list(table["status"]) == ["failed"] and table["error"].iloc[0]


def test_ray_gives_the_same_table_as_local_processes(tmp_path):
    ray = pytest.importorskip("ray")
    local = run_sweep(load_sweep(sweep_file(tmp_path, "local.yaml")), workers=2)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        on_ray = run_sweep(load_sweep(sweep_file(tmp_path, "ray.yaml")), ray_address="auto")
    finally:
        ray.shutdown()
    pd.testing.assert_frame_equal(comparable(local), comparable(on_ray))


def test_bad_sweep_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"scenario: {WORLDS / 'the_ville_3.yaml'}\nuntil: +1h\ngrid:\n  flavour: [a, b]\n")
    done = subprocess.run([sys.executable, "-m", "agentville.sim.cli", "sweep", str(bad)], capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 2 and "grid.flavour: not a cognition setting" in done.stderr
    assert "Traceback" not in done.stderr
