"""Sweeps: a 2x2 grid locally and on Ray gives the same table; failures are rows; bad sweep files are one line."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from agentville.sim.lab.sweep import load_sweep, run_sweep
from tests.conftest import ROOT, TINY, WORLDS, error_lines

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


LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<field>[^:]+): (?P<msg>.+)$")
VILLE = WORLDS / "the_ville_3.yaml"


def sweep_cli(path: Path, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agentville.sim.cli", "sweep", str(path), "--no-progress", *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


def one_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = error_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    return lines[0]


def body(**fields: str | None) -> str:
    """A valid one-run sweep with some fields replaced (raw YAML) or, given None, left out."""
    base = {"scenario": str(VILLE), "until": "+1h", "llm": "fake", "seeds": "[1]", "out": "out"}
    return "".join(f"{k}: {v}\n" for k, v in {**base, **fields}.items() if v is not None)


# (id, sweep text, field, words in the message, text of the line it is on, or None)
BAD = [
    ("until-missing", body(until=None), "until", "missing required field", None),
    ("until-unreadable", body(until="soon"), "until", "cannot read 'soon'", "until: soon"),
    ("until-before-start", body(until="2020-01-01T00:00"), "until", "not after the scenario start", "until:"),
    ("until-past-9999", body(until="+99999999999d"), "until", "past the year 9999", "until:"),
    ("until-too-late", body(until="9999-06-01T00:00"), "until", "too late", "until:"),
    ("llm-a-list", body(llm="[fake]"), "llm", "unknown backend ['fake']", "llm:"),
    ("llm-unknown", body(llm="gpt9"), "llm", "unknown backend 'gpt9' (one of embedded,", "llm:"),
    ("llm-needs-a-model", body(llm="transformers"), "llm", "transformers needs a model", "llm:"),
    ("model-a-mapping", body(model="{a: 1}"), "model", "must be a model name", "model:"),
    ("scenario-a-list", body(scenario="[a, b]"), "scenario", "must be the path of a scenario file", "scenario:"),
    ("scenario-missing", body(scenario=None), "scenario", "missing required field", None),
    ("scenario-no-such-file", body(scenario="nowhere.yaml"), "scenario", "no such file 'nowhere.yaml'", "scenario:"),
    ("out-is-a-file", body(out=str(VILLE)), "out", "is a file, not a folder", "out:"),
    ("out-under-a-file", body(out=str(VILLE / "x")), "out", "is a file, not a folder", "out:"),
    ("yaml-syntax", body(llm="fake: x"), "yaml", "syntax error: mapping values are not allowed here", "llm:"),
    ("seed-not-a-number", body(seeds="[1, x]"), "seeds.1", "whole number", "seeds:"),
    ("seed-too-large", body(seeds="[99999999999999999999999]"), "seeds.0", "whole number from 0 to", "seeds:"),
    ("seed-a-boolean", body(seeds="[true]"), "seeds.0", "whole number", "seeds:"),
    ("seed-negative", body(seeds="[-1]"), "seeds.0", "whole number", "seeds:"),
    ("seed-twice", body(seeds="[1, 1]"), "seeds.1", "listed twice", "seeds:"),
    ("seeds-empty", body(seeds="[]"), "seeds", "non-empty list", "seeds:"),
    ("seeds-a-number", body(seeds="3"), "seeds", "non-empty list", "seeds:"),
    ("grid-a-list", body(grid="[a, b]"), "grid", "must be a mapping", "grid:"),
    ("grid-value-not-a-list", body(grid="\n  reflection: true"), "grid.reflection", "non-empty list",
     "  reflection:"),
    ("grid-empty-list", body(grid="\n  reflection: []"), "grid.reflection", "non-empty list", "  reflection:"),
    ("grid-unknown-key", body(grid="\n  reflection_treshold: [1]"), "grid.reflection_treshold",
     "did you mean 'reflection_threshold'?", "  reflection_treshold:"),
    ("grid-negative-threshold", body(grid="\n  reflection_threshold: [20, -5]"), "grid.reflection_threshold.1",
     "greater than or equal to 1 (got -5)", "  reflection_threshold:"),
    ("grid-zero-k", body(grid="\n  retrieval_k: [0]"), "grid.retrieval_k.0", "greater than or equal to 1",
     "  retrieval_k:"),
    ("grid-not-a-boolean", body(grid="\n  reflection: [maybe]"), "grid.reflection.0", "valid boolean",
     "  reflection:"),
    ("grid-nan", body(grid="\n  recency_weight: [.nan]"), "grid.recency_weight.0", "finite number", "  recency_weight:"),
    ("grid-value-twice", body(grid="\n  retrieval_k: [4, 4]"), "grid.retrieval_k.1", "listed twice", "  retrieval_k:"),
    ("grid-model-not-a-name", body(grid="\n  model: [3]"), "grid.model.0", "model name", "  model:"),
    ("unknown-field", body(unti="+1h"), "unti", "did you mean 'until'?", "unti:"),
    ("not-a-mapping", "- a\n- b\n", "sweep", "a sweep is a mapping", None),
    ("empty", "# nothing\n", "sweep", "file is empty", None),
    ("binary", "until: +1h\x00\n", "sweep", "a binary file, not a YAML sweep", None),
]


@pytest.mark.parametrize("case", BAD, ids=[c[0] for c in BAD])
def test_a_bad_sweep_file_is_one_located_line_and_nothing_runs(tmp_path, case):
    """Issue 13, item 12: checked when the file is loaded (tracebacks, five-line YAML errors, or N failed runs before)."""
    name, text, field, words, marker = case
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    match = LINE.match(one_line(sweep_cli(path)))
    assert match and match["file"] == str(path) and match["field"] == field, match
    assert words in match["msg"], match["msg"]
    expected = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith(marker)) if marker else 1
    assert int(match["line"]) == expected
    assert not (tmp_path / "out").exists()


def test_a_bad_scenario_is_named_with_its_own_file_and_line(tmp_path):
    scenario = tmp_path / "town.yaml"
    scenario.write_text(TINY.replace("xy: [0, 0]", "xy: [.nan, 0]"))
    path = tmp_path / "s.yaml"
    path.write_text(body(scenario="town.yaml"))
    match = LINE.match(one_line(sweep_cli(path)))
    assert match and match["file"] == str(scenario) and match["field"] == "places.0.xy.0"


def test_relative_paths_are_read_from_the_sweep_files_folder(tmp_path):
    """scenario and out resolve against the sweep's folder (out resolved against the working directory before)."""
    folder = tmp_path / "study"
    (folder / "worlds").mkdir(parents=True)
    shutil.copy(VILLE, folder / "worlds" / "town.yaml")
    path = folder / "sweep.yaml"
    path.write_text(body(scenario="worlds/town.yaml", out="results"))
    done = sweep_cli(path, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert (folder / "results" / "results.csv").is_file() and (folder / "results" / "run-000.db").is_file()
    assert not (ROOT / "results").exists()
    path.write_text(body(scenario="worlds/town.yaml", out=None))
    assert load_sweep(path).out == folder / "runs" / "sweep"


def test_a_scenario_relative_to_the_working_directory_gets_a_hint(tmp_path):
    path = tmp_path / "sweep.yaml"
    path.write_text(body(scenario="worlds/the_ville_3.yaml"))
    line = one_line(sweep_cli(path, cwd=ROOT))
    assert line.startswith(f"{path}:1: scenario: no such file 'worlds/the_ville_3.yaml'")
    assert "relative paths are read from the sweep file's folder" in line and str(VILLE) in line


def test_the_readme_example_holds(tmp_path):
    """The README's sweep, saved at the root of a checkout, runs the bundled world into runs/sweep there."""
    readme = (ROOT / "README.md").read_text()
    example = readme.split("## Sweeps", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "worlds").symlink_to(WORLDS)
    path = tmp_path / "sweep.yaml"
    path.write_text(example)
    sweep = load_sweep(path)
    assert sweep.out == tmp_path / "runs" / "sweep" and Path(sweep.scenario) == tmp_path / "worlds" / "the_ville_3.yaml"
    assert len(sweep.runs()) == 12


def test_grid_values_are_those_the_scenario_would_read(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(body(grid="\n  retrieval_k: ['4', 8]\n  reflection: [yes, 'false']"))
    assert load_sweep(path).grid == {"retrieval_k": [4, 8], "reflection": [True, False]}


def test_a_sweep_in_which_every_run_failed_exits_1(tmp_path):
    """Each run reaches a server that is not there: the table is written, and the exit code says so."""
    dead = VILLE.read_text().replace("generation:\n", "generation:\n  backend: openai\n  model: m\n"
                                     "  base_urls: ['http://127.0.0.1:9/v1']\n  retries: 0\n  timeout_s: 1\n", 1)
    (tmp_path / "dead.yaml").write_text(dead)
    path = tmp_path / "s.yaml"
    path.write_text(body(scenario="dead.yaml", llm=None, seeds="[1, 2]", out="out"))
    done = sweep_cli(path)
    line = one_line(done, code=1)
    assert line.startswith("agentville: error: every run of the sweep failed; the first: UserError: cannot reach")
    told = done.stderr.splitlines()[0]  # once, before the runs: where they send requests
    assert told.startswith("agentville: requests go to http://127.0.0.1:9/v1 (named by the scenario; no key sent")
    assert done.stderr.count("requests go to") == 1
    assert "2 runs, 2 failed" in done.stdout
    assert list(pd.read_csv(tmp_path / "out" / "results.csv")["status"]) == ["failed", "failed"]


@pytest.mark.parametrize("args, words", [(["--workers", "-1"], "--workers -1: needs at least 1 worker"),
                                         (["--csv", "/nonexistent/r.csv"], "--csv /nonexistent/r.csv: no folder"),
                                         (["--parquet", "/nonexistent/r.parquet"], "--parquet /nonexistent/")])
def test_bad_flags_are_one_line_before_any_run(tmp_path, args, words):
    path = tmp_path / "s.yaml"
    path.write_text(body(out="out"))
    line = one_line(sweep_cli(path, *args))
    assert line.startswith(f"agentville: error: {words}"), line
    assert not (tmp_path / "out").exists()
