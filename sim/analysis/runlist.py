"""What tells runs apart in a list of runs (``agentville runs``, the dashboard's store list).

Runs of a sweep or an ablation share a scenario and differ in their seed and a
few settings (``runs.settings``: the model, the cache mode, the cognition
switches a sweep's grid sets). A list shows the seed, the settings whose
values are not the same in every listed run, compactly
(``reflection=off reflection_threshold=100``), and where a fork comes from.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

MISSING = "-"  # a setting a run does not record (made by an older version)
MEASURED = ("importance_agreement", "importance_estimator_rho")  # figures a run found, not settings it was given


def flat_settings(settings: Mapping[str, Any]) -> dict[str, str]:
    """A run's settings as ``name -> shown value``; cognition switches under their own names; no measured figures."""
    flat = {key: value for key, value in settings.items() if key not in ("cognition", *MEASURED)}
    flat.update(settings.get("cognition") or {})
    return {key: _shown(value) for key, value in flat.items()}


def _shown(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace(" ", "_")  # one word: the list is split on spaces by eye


def varying_settings(runs: Sequence[Mapping[str, Any]]) -> list[str]:
    """``name=value`` of the settings that differ between the runs, one string per run (in their order)."""
    flats = [flat_settings(run.get("settings") or {}) for run in runs]
    names = sorted({name for flat in flats for name in flat})
    varying = [name for name in names if len({flat.get(name, MISSING) for flat in flats}) > 1]
    return [" ".join(f"{name}={flat.get(name, MISSING)}" for name in varying) for flat in flats]


def fork_origin(run: Mapping[str, Any]) -> str:
    """``fork of RUN at TIME`` for a fork (simulated time of the fork), else empty."""
    parent = run.get("parent_run_id")
    if not parent:
        return ""
    at = dt.datetime.fromisoformat(run["sim_start"]) + dt.timedelta(seconds=float(run.get("fork_time") or 0))
    return f"fork of {parent} at {at:%Y-%m-%d %H:%M}"
