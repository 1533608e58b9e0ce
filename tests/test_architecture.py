"""The shape of the code: one-way layers, small modules, one install namespace.

Layers, lowest first (a module may import its own layer and those below):

0 kernel      clock, location, events, scenario, world, town, store (+ its writer), event log
1 generation  requests, backends, cache, the generation service
2 context     what agents may see (protocols only)
3 agents      cognition
4 runtime     the engine (which never imports agents) and the run assembly
5 interfaces  experiment API, metrics, stats, sweeps, CLI, dashboard
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = {"sim": "agentville.sim", "agents": "agentville.agents", "dashboard": "agentville.dashboard"}
MAX_LINES = 360  # "about 350": small enough to read in one sitting

LAYERS = [
    ("kernel", ["sim.errors", "sim.clock", "sim.location", "sim.events", "sim.yamlpos", "sim.scenario",
                "sim.scenario_checks", "sim.placenames", "sim.world", "sim.town", "sim.store", "sim.eventwriter",
                "sim.kernel", "sim.eventlog", "sim.stored_scenario", "sim.pacing", "sim.payloads"]),
    ("generation", ["sim.generation"]),
    ("context", ["sim.context"]),
    ("agents", ["agents"]),
    ("runtime", ["sim.engine", "sim.scheduler", "sim.runner"]),
    ("interfaces", ["sim.experiment", "sim.metrics", "sim.provenance", "sim.stats", "sim.sweep", "sim.cli",
                    "sim.import_ga", "sim.maze_ga", "sim.ga_match", "sim.ga_cognition",
                    "sim.runlist", "sim.export", "sim.townstate", "sim.tables", "dashboard"]),
]


def modules() -> dict[str, Path]:
    """Every module of the three packages, named as in the repository ("sim.engine")."""
    found = {}
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def imports_of(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports (type-checking imports included: they are dependencies too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    known = modules()
    result = set()
    for target in targets:
        target = target.removeprefix("agentville.")
        if target in known and target != name:
            result.add(target)
    return result


def layer(name: str) -> int:
    matches = [(len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if name == prefix or name.startswith(prefix + ".")]
    assert matches, f"{name} belongs to no layer: add it to LAYERS in {__file__}"
    return max(matches)[1]


def graph() -> nx.DiGraph:
    g = nx.DiGraph()
    for name, path in modules().items():
        g.add_node(name)
        g.add_edges_from((name, target) for target in imports_of(name, path))
    return g


def test_every_import_points_down_the_layers():
    packages = {"sim", "agents", "dashboard"}  # package inits export lazily; they import nothing at load time
    wrong = [f"{a} ({LAYERS[layer(a)][0]}) imports {b} ({LAYERS[layer(b)][0]})"
             for a, b in graph().edges if not {a, b} & packages and layer(b) > layer(a)]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycle_between_sim_and_agents():
    g = graph()
    for cycle in nx.strongly_connected_components(g):
        tops = {name.split(".")[0] for name in cycle}
        assert len(cycle) == 1 or not {"sim", "agents"} <= tops, f"import cycle: {sorted(cycle)}"
    engine_reach = nx.descendants(g, "sim.engine")
    assert not [m for m in engine_reach if m.startswith("agents")], "the engine must not depend on agents"


def test_the_walker_sees_imports():
    """The checks above would pass vacuously if imports were missed."""
    g = graph()
    assert g.has_edge("sim.runner", "agents.generative") and g.has_edge("sim.engine", "sim.town")
    assert g.has_edge("agents.generative", "sim.context")


@pytest.mark.parametrize("folder", ["sim", "agents"])
def test_modules_stay_small(folder):
    big = {str(p.relative_to(ROOT)): n for p in (ROOT / folder).rglob("*.py")
           if (n := len(p.read_text().splitlines())) > MAX_LINES}
    assert not big, f"modules over {MAX_LINES} lines: {big}"


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
    probe = ("import agents, agentville.agents.memory as m, agentville.sim.events as e, agentville.dashboard.data; "
             "print(agents.WHO); print(m.__file__); print(len(e.KINDS)); "
             "import agentville.agents.templates as t; print(len(t.template('importance')) > 0)")
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    who, memory_file, kinds, prompts = done.stdout.splitlines()
    assert who == "the other agents SDK"
    assert memory_file.startswith(str(target)) and int(kinds) > 10 and prompts == "True"
