"""Errors a user can act on: each names a file, a line and a field.

Every problem with a scenario is reported as one line
``FILE:LINE: field.path: what is wrong`` so that editors and CI logs can jump
straight to it; the CLI prints them all and exits with code 2.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with an input file."""

    file: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.field}: {self.message}"


class ScenarioError(Exception):
    """A scenario file could not be loaded; carries every problem found."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


class UserError(Exception):
    """A mistake in how a command was called (bad flag value, missing file).

    The CLI prints it as one line and exits with code 2; no traceback.
    """


class GenerationError(RuntimeError):
    """A request could not be answered and the run must stop; the message says which and why.

    It ends a run on purpose (``on_failure: stop``, a read-only replay that
    misses): the CLI prints it as one line and exits with code 3.
    """
