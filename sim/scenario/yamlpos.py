"""Load YAML and remember where every value came from.

Pydantic tells us *which* field is wrong as a path such as
``("personas", 2, "home")``; users need the *line*. We compose the YAML node
tree once, build plain Python data from it and keep a map from each path to
the line of its node (1-based).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agentville.sim.core.controls import describe, unsafe_strings
from agentville.sim.core.errors import Problem, ScenarioError

MAX_FILE_BYTES = 8 * 1024 * 1024
MAX_NODES = 500_000  # guards against alias bombs ("billion laughs")

PathKey = tuple[Any, ...]

TEXTS = frozenset({"description", "traits", "learned", "lifestyle", "currently", "memories", "daily_requirements",
                   "text"})
"""The fields whose strings may span lines (\\n, \\t); every other string of a document is one line, so a new field
is a name until it is listed here. No string may hold another control or a bidirectional override (``controls``)."""


@dataclass
class Located:
    """Plain data from a YAML file plus the line of every path in it."""

    data: Any
    file: str
    lines: dict[PathKey, int] = field(default_factory=dict)
    kind: str = "scenario"

    def line_of(self, path: PathKey) -> int:
        """The line of the deepest known node on ``path``."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path: PathKey, message: str) -> Problem:
        dotted = ".".join(str(p) for p in path) or self.kind
        return Problem(self.file, self.line_of(path), dotted, message)


def read_text(path: Path, kind: str = "scenario") -> str:
    """Read a YAML file (a ``kind``: scenario, sweep) as UTF-8, turning every failure into a Problem."""
    name = str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ScenarioError([Problem(name, 1, kind, f"cannot read file: {exc.strerror}")]) from None
    if path.is_dir():
        raise ScenarioError([Problem(name, 1, kind, f"is a directory, not a {kind} file")])
    if size > MAX_FILE_BYTES:
        raise ScenarioError([Problem(
            name, 1, kind,
            f"file is too large ({size / 2**20:.1f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB)")])
    raw = path.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ScenarioError([Problem(name, 1, kind, "the file is UTF-16; save it as UTF-8")])
    nul = raw.find(b"\0")
    if nul >= 0:  # no text file holds a NUL byte: a PNG, a SQLite store, an executable...
        raise ScenarioError([Problem(name, 1, kind, f"a binary file, not a YAML {kind} (a NUL byte at offset {nul})")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError([Problem(
            name, line, kind,
            f"not valid UTF-8 (byte 0x{raw[exc.start]:02x} at offset {exc.start}); save the file as UTF-8")]) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def load(text: str, file: str, kind: str = "scenario") -> Located:
    """Parse YAML text into data with line numbers; syntax errors become Problems (one line each)."""
    if not text.strip():
        raise ScenarioError([Problem(file, 1, kind, "file is empty")])
    try:
        nodes = list(yaml.compose_all(text, Loader=yaml.SafeLoader))
    except RecursionError:
        raise ScenarioError([Problem(file, 1, "yaml", f"nested too deeply to be a {kind}")]) from None
    except yaml.reader.ReaderError as exc:  # a control character: its own message spans two lines
        line = text[: exc.position].count("\n") + 1
        raise ScenarioError([Problem(file, line, "yaml", f"control character {describe(chr(exc.character))} is not "
                                     "allowed in YAML (is this a binary file?)")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or exc.context or "invalid YAML"
        raise ScenarioError([Problem(file, line, "yaml", f"syntax error: {what}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(file, 1, "yaml", f"syntax error: {str(exc).splitlines()[0]}")]) from None
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        raise ScenarioError([Problem(file, 1, kind, "file is empty")])
    if len(nodes) > 1:
        raise ScenarioError([Problem(file, nodes[1].start_mark.line + 1, "yaml",
                                     f"more than one YAML document; a {kind} is one document")])
    builder = _Builder(file, kind)
    try:
        data = builder.build(nodes[0], ())
    except (ValueError, TypeError, yaml.YAMLError) as exc:  # a tag that cannot construct its value (!!int x)
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError([Problem(file, line, "yaml", f"cannot read a value: {reason}")]) from None
    located = Located(data, file, builder.lines, kind)
    problems = builder.problems + [located.problem(path, why) for path, why in unsafe_strings(data, TEXTS.__contains__)]
    if problems:
        raise ScenarioError(problems)
    return located


class _Builder:
    """Turns a composed node tree into plain data, recording lines by path."""

    def __init__(self, file: str, kind: str):
        self.file, self.kind = file, kind
        self.lines: dict[PathKey, int] = {}
        self.problems: list[Problem] = []
        self.count = 0
        self._scalars = yaml.SafeLoader("")

    def build(self, node: yaml.Node, path: PathKey) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            if self.count == MAX_NODES + 1:
                self.problems.append(Problem(
                    self.file, node.start_mark.line + 1, ".".join(map(str, path)) or self.kind,
                    f"document expands to more than {MAX_NODES} values (too many aliases?)"))
            return None
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            self._scalars.flatten_mapping(node)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(Problem(self.file, key_node.start_mark.line + 1,
                                                 ".".join(map(str, path)) or self.kind,
                                                 "a key must be a plain value, not a list or mapping"))
                    continue
                key = self._scalars.construct_object(key_node)
                if key in out:
                    dotted = ".".join(map(str, path + (key,)))
                    self.problems.append(Problem(self.file, key_node.start_mark.line + 1, dotted,
                                                 f"duplicate key '{key}' (first on line "
                                                 f"{self.lines[path + (key,)]})"))
                    continue
                self.lines[path + (key,)] = key_node.start_mark.line + 1
                out[key] = self.build(value_node, path + (key,))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        try:
            return self._scalars.construct_object(node)
        except yaml.YAMLError as exc:
            self.problems.append(Problem(self.file, node.start_mark.line + 1,
                                         ".".join(map(str, path)) or self.kind, f"bad value: {exc}"))
            return None
