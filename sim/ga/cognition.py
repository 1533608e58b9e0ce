"""The reference's per-person cognition settings as Agentville's town-wide ones, and those it has none for.

The reference keeps attention, reflection and retrieval settings in each person's
``scratch.json``; Agentville has one ``cognition`` section for the town. A setting the
personas agree on is taken as it is; one they disagree on takes the most common value
(the others are reported); one out of Agentville's range is clamped (reported); one
Agentville has no counterpart for is reported with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from agentville.sim.core.errors import UserError
from agentville.sim.scenario.schema import CognitionSpec

Scratch = tuple[str, Path, dict[str, Any]]  # a persona's name, its scratch.json and what it holds

SETTINGS = {  # scratch.json -> cognition (Agentville's are the town's, not each person's)
    "att_bandwidth": "attention_bandwidth",
    "importance_trigger_max": "reflection_threshold",
    "recency_w": "recency_weight",
    "relevance_w": "relevance_weight",
    "importance_w": "importance_weight",
}
NO_SETTING = {  # scratch.json settings Agentville has no counterpart for, and why
    "vision_r": "agents see the people and objects of their own area, not a radius of tiles",
    "retention": "the last 5 activities an agent started are not news again, for everyone",
    "recency_decay": "recency decays by a fixed 0.995 per game hour for everyone",
    "concept_forget": "memories are never forgotten",
    "daily_reflection_time": "reflection is triggered by importance only",
    "daily_reflection_size": "reflection is triggered by importance only",
    "overlap_reflect_th": "reflection is triggered by importance only",
    "kw_strg_event_reflect_th": "reflection is triggered by importance only",
    "kw_strg_thought_reflect_th": "reflection is triggered by importance only",
    "thought_count": "reflection is triggered by importance only",
}


def cognition(people: list[Scratch], notes: list[str]) -> dict[str, Any]:
    """The personas' settings Agentville has, one for the town: the most common value (each other one said)."""
    cognition: dict[str, Any] = {}
    for key, setting in SETTINGS.items():
        values = _values(people, key)
        if not values:
            continue
        chosen = max(values, key=lambda v: len(values[v]))
        if len(values) > 1:
            notes.append(f"guess: {key} differs ({_spread(values)}); Agentville's {setting} is the town's: "
                         f"{chosen} (the most common)")
        cognition[setting] = _in_range(setting, chosen, notes)
    for key, why in NO_SETTING.items():
        if values := _values(people, key):
            notes.append(f"unmapped: {key} = {_spread(values)}: Agentville has no such setting ({why})")
    return cognition


def _values(people: list[Scratch], key: str) -> dict[Any, list[str]]:
    values: dict[Any, list[str]] = {}
    for name, path, scratch in people:
        value = scratch.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{path}: {key}: must be a number (got {value!r})")
        values.setdefault(value, []).append(name)
    return values


def _spread(values: dict[Any, list[str]]) -> str:
    if len(values) == 1:
        (value, who), = values.items()
        return f"{value} (all {len(who)} personas)" if len(who) > 1 else f"{value} ({who[0]})"
    return ", ".join(f"{value} ({', '.join(who)})" for value, who in values.items())


def _in_range(setting: str, value: float, notes: list[str]) -> float | int:
    """The value within the bounds of Agentville's setting (a value out of them is clamped and said)."""
    bounds = CognitionSpec.model_fields[setting].metadata
    low = next((b.ge for b in bounds if hasattr(b, "ge")), None)
    high = next((b.le for b in bounds if hasattr(b, "le")), None)
    kept = min(max(value, low if low is not None else value), high if high is not None else value)
    if kept != value:
        notes.append(f"guess: {setting} {value} is out of Agentville's range; {kept} is used")
    return int(kept) if CognitionSpec.model_fields[setting].annotation is int else float(kept)
