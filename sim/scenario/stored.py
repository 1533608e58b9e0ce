"""The scenario a run ran with, as stored with the run, and read back.

A run keeps its scenario's YAML text and digest in the store, so the dashboard,
resume and fork work from any folder, after the file moved, and after it was
edited (they say so). The text is the file's own when the run was started from
the file as loaded, else a rendering of the Scenario object it ran with (a
fork's changed interventions, a scenario built in Python). Stores from before
the text was kept fall back to the file at ``scenario_path``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from agentville.sim.core.errors import ScenarioError, UserError

from . import yamlpos
from .loading import load_scenario, load_scenario_text
from .schema import Scenario

RENDERED = "# rendered by Agentville from the Scenario object the run used; not a file's own text\n"


def text_digest(text: str) -> str:
    """The sha256 of a text (UTF-8), in hex: tells whether a scenario file still holds what a run stored."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_scenario(scenario: Scenario) -> str:
    """YAML that ``load_scenario_text`` reads back into the same scenario (fields left at defaults are omitted)."""
    fields = scenario.model_dump(mode="json", exclude_defaults=True)  # tuples as lists, times as ISO text
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml's: 1,000 residents in a blink, not a second
    return RENDERED + yaml.dump(fields, Dumper=dumper, sort_keys=False, allow_unicode=True, width=120)


def scenario_text(scenario: Scenario) -> str:
    """The YAML a run stores: the text it was loaded from while unchanged since, else a rendering."""
    source = scenario._source
    if source is not None and source[1] == scenario.model_dump():
        return source[0]
    return render_scenario(scenario)


def file_hint(path: str | None) -> str | None:
    """Where a run's scenario file is, absolute when it exists from here (a hint that survives a cd)."""
    if path and Path(path).is_file():
        return str(Path(path).absolute())
    return path


@dataclass(frozen=True)
class StoredScenario:
    """A run's scenario, why it may surprise (``warning``: one line), and its file (absolute when found)."""

    scenario: Scenario
    warning: str | None = None
    path: str | None = None


def stored_scenario(run: Mapping[str, Any]) -> StoredScenario:
    """The scenario of a stored run (a row of ``EventStore.runs``): the stored copy, else its file.

    Raises UserError when neither is there (a store from before scenarios were
    kept, whose file is gone), ScenarioError when what is there does not load.
    """
    text, path, run_id = run.get("scenario_text"), file_hint(run.get("scenario_path")), run["run_id"]
    if text is None:
        if not path or not Path(path).is_file():
            raise UserError(f"run {run_id}: its scenario file {path!r} is gone and the store holds no copy "
                            "(it is older than stored scenarios)")
        return StoredScenario(load_scenario(path, quiet=True), None, path)
    scenario = load_scenario_text(text, f"run {run_id} (stored scenario)", quiet=True)
    return StoredScenario(scenario, _changed_file(run, text, path), path)


def _changed_file(run: Mapping[str, Any], text: str, path: str | None) -> str | None:
    """A warning when the file the stored text came from now holds something else."""
    if not path or text.startswith(RENDERED) or not Path(path).is_file():
        return None
    try:
        on_disk = yamlpos.read_text(Path(path))
    except ScenarioError:  # unreadable now: the stored copy is all there is, as for a deleted file
        return None
    if text_digest(on_disk) == (run.get("scenario_digest") or text_digest(text)):
        return None
    return f"scenario file {path} changed since run {run['run_id']}: using the copy stored with the run"


def scenario_or_warning(run: Mapping[str, Any]) -> tuple[Scenario | None, str | None]:
    """For readers that can do without a scenario (the dashboard): it, or None and why, in one line."""
    try:
        found = stored_scenario(run)
    except (UserError, ScenarioError) as exc:
        reason = str(exc).splitlines()[0]
        return None, f"{reason} — the map shows a generated layout, without paths or personas"
    return found.scenario, found.warning
