"""A run keeps its scenario: dashboard, resume and fork work from any folder, after the file moved or changed."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from streamlit.testing.v1 import AppTest

from agentville.dashboard import stores, town
from agentville.sim.cli import main
from agentville.sim.generation import FakeBackend
from agentville.sim.lab.experiment import Experiment
from agentville.sim.runtime.runner import open_run
from agentville.sim.scenario import Scenario, load_scenario, load_scenario_text
from agentville.sim.scenario.stored import RENDERED, render_scenario, scenario_text, stored_scenario
from agentville.sim.store.eventstore import EventStore
from tests.conftest import ROOT, TINY, WORLDS

VILLE = WORLDS / "the_ville_3.yaml"
PERSONAS = {"Isabella Rodriguez", "Klaus Mueller", "Maria Lopez"}
OLD_RUNS_TABLE = """CREATE TABLE runs (run_id TEXT PRIMARY KEY, scenario TEXT NOT NULL, scenario_path TEXT,
    seed INTEGER NOT NULL, settings TEXT NOT NULL DEFAULT '{}', sim_start TEXT NOT NULL, sim_until TEXT,
    sim_reached REAL NOT NULL DEFAULT 0, started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL,
    pid INTEGER, parent_run_id TEXT, fork_time REAL, error TEXT)"""


def crashed_run(folder: Path, monkeypatch) -> Path:
    """A run of a copy of the 3-agent village started in ``folder`` (relative path), stopped at 2 h of 4."""
    monkeypatch.chdir(folder)
    shutil.copy(VILLE, folder / "ville.yaml")
    with open_run("ville.yaml", db="runs/v.db", llm="fake") as sim:
        sim.start(sim.scenario.start + dt.timedelta(hours=4))
        sim.advance(sim.scenario.start + dt.timedelta(hours=2))
        sim.finish("interrupted", "stopped by the test")
    return folder / "runs" / "v.db"


def newest(db: Path) -> dict:
    with EventStore(db, read_only=True) as store:
        return store.run()


@pytest.fixture
def away(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """(store, another folder): a crashed run started in one folder, the working directory now another."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    db = crashed_run(tmp_path / "a", monkeypatch)
    monkeypatch.chdir(tmp_path / "b")
    return db, tmp_path / "b"


def test_the_stored_rendering_loads_back_into_the_same_scenario():
    for world in (VILLE, WORLDS / "smallville.yaml"):
        scenario = load_scenario(world)
        assert scenario_text(scenario) == world.read_text()  # loaded and unchanged: the file's own text
        back = load_scenario_text(render_scenario(scenario), "rendered")
        assert back.model_dump() == scenario.model_dump()
        changed = scenario.model_copy(update={"interventions": [], "seed": 99})
        text = scenario_text(changed)
        assert text.startswith(RENDERED)
        assert load_scenario_text(text, "rendered").model_dump() == changed.model_dump()


def test_a_run_stores_its_scenario_text_digest_and_absolute_path(tmp_path, monkeypatch):
    db = crashed_run(tmp_path, monkeypatch)
    run = newest(db)
    text = (tmp_path / "ville.yaml").read_text()
    assert run["scenario_text"] == text
    assert run["scenario_digest"] == hashlib.sha256(text.encode()).hexdigest()
    assert run["scenario_path"] == str(tmp_path / "ville.yaml")  # absolute, though started as "ville.yaml"


def test_dashboard_resume_and_fork_work_from_elsewhere_after_the_file_is_gone(away, capsys):
    db, _ = away
    (db.parent.parent / "ville.yaml").unlink()
    log = stores.load_run(db)
    assert log.scenario is not None and log.scenario_warning is None
    assert {p.name for p in log.scenario.personas} == PERSONAS and len(log.scenario.paths) > 0
    places = town.place_layout(log)
    assert len(town.path_segments(log, places)) == len(log.scenario.paths)  # the file's map, not a fallback circle
    assert main(["resume", str(db), "--no-progress"]) == 0, capsys.readouterr().err
    assert newest(db)["status"] == "finished"
    assert main(["fork", str(db), "--at", "+1h", "--no-progress"]) == 0, capsys.readouterr().err
    fork = newest(db)
    assert fork["parent_run_id"] and fork["status"] == "finished"
    assert "warning" not in capsys.readouterr().err


def test_an_edited_file_warns_and_the_stored_copy_is_used(away, capsys):
    db, _ = away
    scenario_file = db.parent.parent / "ville.yaml"
    scenario_file.write_text(scenario_file.read_text().replace("Klaus Mueller", "Klaus Meyer"))
    log = stores.load_run(db)
    assert log.scenario is not None and {p.name for p in log.scenario.personas} == PERSONAS
    assert log.scenario_warning == (f"scenario file {scenario_file} changed since run {log.run['run_id']}: "
                                    "using the copy stored with the run")
    assert main(["resume", str(db), "--no-progress"]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert warnings == [f"agentville: warning: {log.scenario_warning}"]
    assert newest(db)["status"] == "finished"
    with EventStore(db, read_only=True) as store:
        assert "Klaus Meyer" not in store.agents(log.run["run_id"])


def test_the_dashboard_page_shows_the_warning(away, monkeypatch):
    db, _ = away
    scenario_file = db.parent.parent / "ville.yaml"
    scenario_file.write_text(scenario_file.read_text() + "\n# edited\n")
    monkeypatch.setenv("AGENTVILLE_DB", str(db))
    test = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60).run()
    assert not test.exception, [e.value for e in test.exception]
    assert any("changed since run" in w.value for w in test.warning)


def test_a_fork_stores_the_scenario_it_ran_with(away, capsys):
    db, folder = away
    assert main(["resume", str(db), "--no-progress"]) == 0
    quiet = folder / "quiet.yaml"
    quiet.write_text("interventions: []\n")
    assert main(["fork", str(db), "--at", "+1h", "--scenario", str(quiet), "--no-progress"]) == 0
    fork = newest(db)
    assert fork["scenario_text"].startswith(RENDERED)
    assert fork["scenario_digest"] == hashlib.sha256(fork["scenario_text"].encode()).hexdigest()
    assert load_scenario(VILLE).interventions and not stored_scenario(fork).scenario.interventions
    assert stored_scenario(fork).warning is None  # a rendering is not the file's text: nothing to compare


def make_old(db: Path) -> None:
    """Turn a store into one from before scenarios were stored (the runs table without their columns)."""
    with sqlite3.connect(db) as old:
        old.execute("ALTER TABLE runs RENAME TO new_runs")
        old.execute(OLD_RUNS_TABLE)
        old.execute("INSERT INTO runs SELECT run_id, scenario, scenario_path, seed, settings, sim_start, sim_until, "
                    "sim_reached, started_at, ended_at, status, pid, parent_run_id, fork_time, error FROM new_runs")
        old.execute("DROP TABLE new_runs")
        old.execute("UPDATE runs SET scenario_path = 'ville.yaml'")  # relative, as they were


def test_an_old_store_lists_loads_and_resumes_through_its_path(away, monkeypatch, capsys):
    db, _ = away
    make_old(db)
    monkeypatch.chdir(db.parent.parent)  # where its relative path points
    (run,) = EventStore(db, read_only=True).runs()
    assert run["scenario_text"] is None and run["scenario_digest"] is None
    assert main(["runs", str(db)]) == 0 and "interrupted" in capsys.readouterr().out
    log = stores.load_run(db)
    assert log.scenario is not None and {p.name for p in log.scenario.personas} == PERSONAS
    assert main(["resume", str(db), "--no-progress"]) == 0, capsys.readouterr().err
    with sqlite3.connect(db) as store:
        columns = {row[1] for row in store.execute("PRAGMA table_info(runs)")}
    assert {"scenario_text", "scenario_digest"} <= columns  # added when opened writable
    assert newest(db)["status"] == "finished"


def test_an_old_store_whose_file_is_gone_says_so(away, capsys):
    db, _ = away
    make_old(db)
    log = stores.load_run(db)
    assert log.scenario is None and "is gone and the store holds no copy" in (log.scenario_warning or "")
    assert main(["resume", str(db), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ville.yaml' is gone" in err[0]


def test_runs_lists_seeds_differing_settings_and_forks(tmp_path, capsys):
    db = str(tmp_path / "s.db")
    for extra in ([], ["--seed", "5", "--no-reflection"]):
        assert main(["run", str(VILLE), "--llm", "fake", "--until", "+2h", "--db", db, "--no-progress", *extra]) == 0
    assert main(["fork", db, "--at", "+1h", "--no-progress"]) == 0
    capsys.readouterr()
    assert main(["runs", db]) == 0
    fork, ablated, first = capsys.readouterr().out.strip().splitlines()
    assert "seed 5  reflection=off  " in ablated and "seed 7  reflection=on  " in first
    assert "llm=" not in first  # the same in every run: not shown
    assert f"seed 5  reflection=off  fork of {ablated.split()[0]} at 2023-02-13 09:00  " in fork
    listing = stores.find_stores(tmp_path)
    assert list(listing["seed"]) == [5, 5, 7]
    assert list(listing["settings"]) == ["reflection=off", "reflection=off", "reflection=on"]
    assert listing["fork"].iloc[0].startswith("fork of ") and listing["fork"].iloc[1] == ""


def test_a_scenario_built_in_python_is_stored_as_a_rendering(tmp_path):
    built = Scenario.model_validate(yaml.safe_load(TINY))  # never a file: nothing to store but a rendering
    with Experiment(built, db=tmp_path / "e.db", backend=FakeBackend()) as exp:
        exp.run("+1h")
        run = exp.store.run()
    assert run["scenario_text"].startswith(RENDERED) and run["scenario_path"] is None
    found = stored_scenario(run)
    assert found.scenario.model_dump() == built.model_dump() and found.warning is None
