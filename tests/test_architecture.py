"""The shape of the code: folders as layers that import one way, no cycles, small modules, one namespace.

The facts are read from the source by ``tests/architecture_report.py``
(``python -m tests.architecture_report`` prints them); these tests hold them.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
import warnings
from pathlib import Path

import networkx as nx
import pytest

from tests import architecture_report as arch

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 360  # "about 350": small enough to read in one sitting


def test_every_module_belongs_to_a_layer():
    for name in arch.modules():
        if not arch.is_package_root(name):
            arch.layer_of(name)  # raises, naming the module


def test_every_import_points_down_the_layers():
    wrong = arch.upward_imports()
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_at_run_time():
    assert not arch.cycles(run_time_only=True)


def test_the_only_type_only_back_edges_name_the_agent_class_from_planning_and_acting():
    g = arch.graph(run_time_only=False)
    allowed = [(e.source, e.target) for e in arch.all_imports() if not e.run_time and e.target == arch.AGENT_CLASS
               and e.source.startswith(arch.ALLOWED_TYPE_BACK_EDGES)]
    g.remove_edges_from(allowed)
    assert nx.is_directed_acyclic_graph(g), [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]


def test_the_engine_does_not_depend_on_agents():
    reach = nx.descendants(arch.graph(run_time_only=False), "sim.runtime.engine")
    assert not [m for m in reach if m.startswith("agents")]


def test_the_dashboard_does_not_depend_on_agents():
    """The dashboard reads logged runs: the schema and the analyses, never cognition (the memory scores it shows
    come from sim.core.retrieval, as the memory stream's do)."""
    g = arch.graph(run_time_only=False)
    reach = {m for name in g if name.startswith("dashboard") for m in nx.descendants(g, name)}
    assert not sorted(m for m in reach if m.startswith("agents"))


def test_the_walker_sees_imports():
    """The checks above would pass vacuously if imports were missed."""
    edges = {(e.source, e.target): e.run_time for e in arch.all_imports()}
    assert edges[("sim.runtime.runner", "agents.generative")] is True
    assert edges[("sim.runtime.engine", "sim.world.town")] is True
    assert edges[("agents.planning.days", "agents.generative")] is False  # type-only
    assert ("agents.generative", "sim.context.protocols") in edges
    assert edges[("agents.planning.ahead", "agents.planning.steps")] is True  # an import inside a function
    assert edges[("dashboard.tabs.diffusion", "sim.analysis.provenance")] is True  # from agentville.<pkg> import <mod>


def test_no_new_top_level_module_in_sim():
    """Every module of sim/ lives in a folder that says its layer."""
    assert sorted(p.name for p in (ROOT / "sim").glob("*.py")) == ["__init__.py"]


def test_every_folder_is_installed():
    """pyproject.toml lists the packages one by one (package-dir maps them into agentville.*): a new folder
    missing there would be left out of a wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {"agentville." + ".".join(p.parent.relative_to(ROOT).parts)
               for top in arch.PACKAGES for p in (ROOT / top).rglob("__init__.py")}
    assert folders == listed, (folders - listed, listed - folders)


@pytest.mark.parametrize("folder", ["sim", "agents", "dashboard"])
def test_modules_stay_small(folder):
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


def test_the_readme_layout_table_is_the_folders():
    text = arch.README.read_text()
    assert arch.readme_with_table(text) == text, "run python -m tests.architecture_report --readme"


def test_old_module_names_still_import_and_say_where_they_went():
    import importlib

    from agentville.sim import MOVED

    for old, new in MOVED.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            module = importlib.import_module(old)
        assert module is importlib.import_module(new), old
        assert not sys.modules.get(old) or sys.modules[old] is module
    with pytest.warns(DeprecationWarning, match="moved to agentville.sim.lab.sweep"):
        sys.modules.pop("agentville.sim.sweep", None)
        importlib.import_module("agentville.sim.sweep")
    from agentville.sim.experiment import Experiment  # the README of earlier releases said so
    from agentville.sim.lab.experiment import Experiment as Moved
    assert Experiment is Moved


def test_a_store_names_no_module(tmp_path):
    """Stores and caches outlive a layout: nothing in them may name a module, so moving one never
    orphans a stored run (a store written before the folders was checked by hand: runs, events
    and fork read it as before)."""
    import datetime as dt
    import re
    import sqlite3

    from agentville.sim.runtime.runner import open_run

    db = tmp_path / "s.db"
    with open_run(ROOT / "worlds" / "the_ville_3.yaml", db=db, llm="fake") as sim:
        sim.run(sim.scenario.start + dt.timedelta(hours=1))
    connection = sqlite3.connect(db)
    module = re.compile(r"agentville|\b(sim|agents|dashboard)\.[a-z_]+\.|\.py\b")
    tables = [name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    assert {"runs", "events", "llm_cache"} <= set(tables)
    named = [(table, value[:80]) for table in tables for row in connection.execute(f"SELECT * FROM {table}")
             for value in row if isinstance(value, str) and module.search(value)]
    assert not named, named


def test_the_project_itself_uses_the_new_names():
    from agentville.sim import MOVED

    old = {name.removeprefix("agentville.") for name in MOVED}
    known = arch.modules()
    users = []
    for folder in ("sim", "agents", "dashboard", "tests", "bench", "experiments"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "test_architecture.py":  # imports old names on purpose
                continue
            text = path.read_text()
            users += [f"{path.relative_to(ROOT)}: {name}" for name in old
                      if f"agentville.{name} " in text or f"agentville.{name}\n" in text
                      or f"agentville.{name}." in text and f"agentville.{name}." not in str(known)]
    assert not users, users


@pytest.mark.slow
def test_installs_next_to_another_top_level_agents_package(tmp_path):
    """`pip install` of Agentville must not claim `agents` (a common name of other SDKs), nor `sim`/`dashboard`."""
    other = tmp_path / "other"
    (other / "agents").mkdir(parents=True)
    (other / "agents" / "__init__.py").write_text("WHO = 'the other agents SDK'\n")
    (other / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["setuptools>=68"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "other-agents-sdk"
        version = "1.0"
        [tool.setuptools]
        packages = ["agents"]
        """))
    target = tmp_path / "site"
    for source in (other, ROOT):
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                               "--disable-pip-version-check", "--target", str(target), str(source)],
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
    top = {p.name for p in target.iterdir() if not p.name.endswith((".dist-info", ".egg-info"))}
    assert {"sim", "dashboard"}.isdisjoint(top) and "agentville" in top
    probe = ("import agents, agentville.agents.memory.stream as m, agentville.sim.core.events as e, agentville.dashboard.stores; "
             "print(agents.WHO); print(m.__file__); print(len(e.KINDS)); "
             "import agentville.agents.llm.templates as t; print(len(t.template('importance')) > 0)")
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    who, memory_file, kinds, prompts = done.stdout.splitlines()
    assert who == "the other agents SDK"
    assert memory_file.startswith(str(target)) and int(kinds) > 10 and prompts == "True"
