"""Loading a scenario: YAML with the line of every value, the schema, then the semantic checks.

A scenario is one YAML document. Pydantic checks shapes and types; ``checks``
catches what a schema cannot (dangling references, duplicates, places no
path reaches). Every problem is reported with its file and line, all at once.
"""

from __future__ import annotations

import difflib
import logging
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from agentville.sim.core.errors import Problem, ScenarioError

from . import yamlpos
from .checks import semantic_problems
from .schema import DEFAULT_RUN, Scenario


def load_scenario(path: str | Path, *, quiet: bool = False) -> Scenario:
    """Read, parse and check a scenario file; raise ScenarioError listing every problem.

    Warnings are logged as one line each (``FILE:LINE: field: warning: ...``) unless ``quiet``.
    """
    path = Path(path)
    return load_scenario_text(yamlpos.read_text(path), str(path), quiet=quiet)


def load_scenario_text(text: str, name: str, *, quiet: bool = False) -> Scenario:
    """``load_scenario`` for YAML text from elsewhere (the copy stored with a run); ``name`` stands for the file.

    The scenario remembers its text, so a run stores the very text it was loaded from
    (``sim.scenario.stored.scenario_text``) as long as nothing was changed after loading.
    """
    scenario = check(yamlpos.load(text, name))
    scenario._source = (text, scenario.model_dump())
    for warning in [] if quiet else scenario._warnings:
        logging.getLogger(__name__).warning("%s", warning)  # one line on stderr where logging is not set up
    return scenario


def check(located: yamlpos.Located) -> Scenario:
    """Validate located data against the schema and the semantic rules."""
    if not isinstance(located.data, dict):
        raise ScenarioError([located.problem(
            (), "a scenario must be a mapping of fields (name:, start:, places:, ...)")])
    try:
        scenario = Scenario.model_validate(located.data)
    except ValidationError as exc:
        raise ScenarioError(_schema_problems(exc, located)) from None
    problems = semantic_problems(scenario, located)
    if problems:
        raise ScenarioError(problems)
    end, which = scenario.end or scenario.start + DEFAULT_RUN, "" if scenario.end else ", a day after the start"
    scenario._warnings = [located.problem(("interventions", i, "at"), f"warning: {item.at:%Y-%m-%d %H:%M} is not "
                                          f"before the scenario's end ({end:%Y-%m-%d %H:%M}{which}); it happens "
                                          "only in a run that goes on past it (--until)")
                          for i, item in enumerate(scenario.interventions) if item.at >= end]
    return scenario


def _schema_problems(exc: ValidationError, located: yamlpos.Located) -> list[Problem]:
    problems = []
    for error in exc.errors():
        loc, node = [], located.data
        for part in error["loc"]:
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and part < len(node):
                node = node[part]
            elif error["type"] in ("missing", "extra_forbidden") and part == error["loc"][-1]:
                pass
            else:
                continue
            loc.append(part)
        problems.append(located.problem(tuple(loc), schema_message(error, loc)))
    return problems


def schema_message(error: Any, loc: list[Any]) -> str:  # a pydantic ErrorDetails
    kind, field = error["type"], loc[-1] if loc else ""
    if kind == "missing":
        return "missing required field"
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        hint = ""
        if model is not None:
            close = difflib.get_close_matches(str(field), list(model.model_fields), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known: {', '.join(model.model_fields)})"
        return f"unknown field '{field}'{hint}"
    message = error["msg"]
    message = message.removeprefix("Value error, ")
    got = error.get("input")
    if kind not in ("string_too_short",) and isinstance(got, (str, int, float)) and len(repr(got)) < 60:
        message += f" (got {got!r})"
    return message[0].lower() + message[1:]


def _model_at(loc: list[Any]) -> type[BaseModel] | None:
    """The pydantic model that describes the mapping at ``loc``."""
    model: Any = Scenario
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        if field is None:
            return None
        annotation = field.annotation
        args = getattr(annotation, "__args__", ())
        model = next((a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if model is None:
            return None
    return model
