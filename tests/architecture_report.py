"""The shape of the code, read from the source: layers, the import graph between folders, and its cycles.

Run ``python -m tests.architecture_report`` from the repository root: it
prints each layer with its folders and modules, the imports between folders,
and every import cycle (run time, and with type-only imports). The
architecture tests (``tests/test_architecture.py``) assert the same facts.
``--readme`` rewrites the README's layout table from the folders (a test
fails while the README's table differs from what this prints).

Layers, lowest first; a module may import its own layer and those below.
Inside ``agents`` the folders are layers too: the model-asking helpers,
then memory, then conversation data, then planning, then the agent itself.
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sim", "agents", "dashboard")  # installed as agentville.sim, agentville.agents, agentville.dashboard

LAYERS: list[tuple[str, list[str]]] = [
    ("core", ["sim.core"]),  # clock, kernel, locations, place names, event schema, errors
    ("scenario", ["sim.scenario"]),  # schema, loading with lines, checks, the stored copy
    ("world", ["sim.world"]),  # the static map and the town's changing state
    ("store", ["sim.store"]),  # the SQLite store, its writer, payloads, the event log
    ("generation", ["sim.generation"]),  # requests, backends, cache, the service
    ("context", ["sim.context"]),  # what agents may see and do (protocols)
    ("agents.llm", ["agents.llm"]),  # asking the model, templates, due times
    ("agents.memory", ["agents.memory"]),  # the stream, importance, reflection, identity
    ("agents.talk", ["agents.talk"]),  # a conversation's data and text
    ("agents.planning", ["agents.planning"]),  # days, schedules, steps, revisions, places
    ("agents", ["agents"]),  # the agent, acting, perception, dialogue
    ("runtime", ["sim.runtime"]),  # engine, scheduler, pacing, run assembly
    ("analysis", ["sim.analysis"]),  # reading logged runs
    ("lab", ["sim.lab", "sim.ga"]),  # experiments and sweeps; the reference's towns
    ("interfaces", ["sim.cli", "dashboard", "dashboard.tabs"]),
]
ALLOWED_TYPE_BACK_EDGES = ("agents.planning.", "agents.acting", "agents.living")
"""Who may name the agent class in type hints only: planning, acting and the day loop work on the agent's own state."""
AGENT_CLASS = "agents.generative"


@dataclass(frozen=True)
class Import:
    source: str
    target: str
    run_time: bool  # False: only under ``if TYPE_CHECKING``


def modules() -> dict[str, Path]:
    """Every module of the packages, named as in the repository ("sim.runtime.engine")."""
    found = {}
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    inside = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside |= {id(n) for n in ast.walk(child)}
    return inside


def imports_of(name: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """The project modules ``name`` imports, at run time (anywhere, functions included) or for types only."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text())
    typing_only = _type_checking_nodes(tree)
    found: dict[str, bool] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = {alias.name.removeprefix("agentville.") for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = (node.module or "").removeprefix("agentville.")
            # "from . import yamlpos" and "from agentville.sim.analysis import provenance" depend on the
            # submodule, not on the package's own init
            submodules = {f"{module}.{alias.name}" for alias in node.names} & known.keys()
            targets = submodules if len(submodules) == len(node.names) else {module} | submodules
        else:
            continue
        for target in targets:
            if target in known and target != name:
                found[target] = found.get(target, False) or id(node) not in typing_only
    return [Import(name, target, run_time) for target, run_time in sorted(found.items())]


def all_imports() -> list[Import]:
    known = modules()
    return [edge for name, path in known.items() for edge in imports_of(name, path, known)]


def layer_of(name: str) -> int:
    """The index in LAYERS of the longest prefix naming ``name``'s folder (package roots have none)."""
    matches = [(len(prefix), i) for i, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if name == prefix or name.startswith(prefix + ".")]
    if not matches:
        raise LookupError(f"{name} belongs to no layer: add its folder to LAYERS in {__file__}")
    return max(matches)[1]


def is_package_root(name: str) -> bool:
    """``sim``, ``agents``, ``dashboard``: their inits export lazily and import nothing at load time."""
    return name in PACKAGES


def folder_of(name: str) -> str:
    path = modules()[name]
    parts = list(path.parent.relative_to(ROOT).parts)
    return ".".join(parts)


def graph(run_time_only: bool) -> nx.DiGraph:
    g = nx.DiGraph()
    g.add_nodes_from(modules())
    g.add_edges_from((e.source, e.target) for e in all_imports() if e.run_time or not run_time_only)
    return g


def cycles(run_time_only: bool) -> list[list[str]]:
    """Groups of modules that import each other (strongly connected components of two or more)."""
    return sorted(sorted(c) for c in nx.strongly_connected_components(graph(run_time_only)) if len(c) > 1)


def upward_imports() -> list[str]:
    """Imports that point up the layers, but for the type-only back-edges to the agent class."""
    wrong = []
    for e in all_imports():
        if is_package_root(e.source) or is_package_root(e.target):
            continue
        if layer_of(e.target) > layer_of(e.source):
            allowed = (not e.run_time and e.target == AGENT_CLASS
                       and e.source.startswith(ALLOWED_TYPE_BACK_EDGES))
            if not allowed:
                kind = "" if e.run_time else " (type-only)"
                wrong.append(f"{e.source} ({LAYERS[layer_of(e.source)][0]}) imports {e.target} "
                             f"({LAYERS[layer_of(e.target)][0]}){kind}")
    return wrong


README = ROOT / "README.md"
TABLE_BEGIN, TABLE_END = "<!-- layout table: python -m tests.architecture_report --readme -->", "<!-- end of layout table -->"


def _summary(path: Path) -> str:
    """The first sentence of a module's or package's docstring."""
    doc = ast.get_docstring(ast.parse(path.read_text())) or ""
    first = " ".join(doc.split("\n\n")[0].split())
    return first.split(". ")[0].rstrip(".")


def layout_table() -> str:
    """One row per folder, layers lowest first: what the folder holds and its modules."""
    rows = ["| layer | folder | what it holds | modules |", "|---|---|---|---|"]
    for label, prefixes in LAYERS:
        for prefix in prefixes:
            folder = ROOT / Path(*prefix.split("."))
            if folder.is_dir():
                names = sorted(p.stem for p in folder.glob("*.py") if p.name != "__init__.py")
                what = _summary(folder / "__init__.py")
                where = prefix.replace(".", "/") + "/"
            else:
                names, what, where = [], "", prefix.replace(".", "/")
            if prefix == "agents":  # the modules at the top of agents/ (the folders below have rows of their own)
                what = "the agent and what it does with the parts below"
            rows.append(f"| {label} | `{where}` | {what} | {', '.join(names)} |")
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    begin, end = text.index(TABLE_BEGIN) + len(TABLE_BEGIN), text.index(TABLE_END)
    return text[:begin] + "\n" + layout_table() + "\n" + text[end:]


def report(out=sys.stdout) -> int:
    known = modules()
    print("Layers, lowest first (a module imports its own layer and those below):", file=out)
    for i, (label, prefixes) in enumerate(LAYERS):
        members = sorted(n for n in known if not is_package_root(n) and layer_of(n) == i)
        print(f"  {i:>2} {label:<16} {', '.join(prefixes)}  ({len(members)} modules)", file=out)
    print("\nImports between folders (run time; 'T' marks type-only):", file=out)
    pairs: dict[tuple[str, str], list[bool]] = {}
    for e in all_imports():
        a, b = folder_of(e.source), folder_of(e.target)
        if a != b:
            pairs.setdefault((a, b), []).append(e.run_time)
    for (a, b), kinds in sorted(pairs.items()):
        mark = "" if any(kinds) else " T"
        print(f"  {a:<18} -> {b:<18} {len(kinds):>3}{mark}", file=out)
    problems = 0
    for label, run_time_only in (("run-time import cycles", True), ("import cycles with type-only imports", False)):
        found = cycles(run_time_only)
        print(f"\n{label}: {len(found)}", file=out)
        for group in found:
            print("  " + " <-> ".join(group), file=out)
        problems += len(found) if run_time_only else 0
    wrong = upward_imports()
    print(f"\nimports pointing up the layers: {len(wrong)}", file=out)
    for line in wrong:
        print("  " + line, file=out)
    return 1 if problems or wrong else 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--readme"]:
        README.write_text(readme_with_table(README.read_text()))
        print(f"wrote the layout table into {README.name}")
    else:
        sys.exit(report())
