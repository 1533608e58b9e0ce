"""Stored payloads, read back: every event's ``data`` is a JSON object, its ``wall`` one or empty.

The store is Agentville's own file, but a file can be edited by hand or
damaged. A payload that is not JSON, or not an object, would surface far
from its cause (an AttributeError in a view, an export, a summary); here it
is one line naming the store, the run and the event (a ``UserError``: the
CLI exits with code 2, the dashboard shows the line).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from agentville.sim.core.errors import UserError

RawRow = tuple[int, float, str, str | None, Any, Any]
"""(seq, sim_time, kind, agent, data text, wall text) as SQLite returns them."""


class DamagedEvent(UserError):
    """An event whose stored payload cannot be what Agentville wrote."""


def decode(path: str | Path, run_id: str, row: RawRow) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The (data, wall) of one stored event, or a DamagedEvent naming it."""
    seq, _, kind, _, data_text, wall_text = row
    try:
        data, wall = orjson.loads(data_text), orjson.loads(wall_text) if wall_text else None
    except (orjson.JSONDecodeError, TypeError):
        raise DamagedEvent(f"{path}: run {run_id}, event {seq} ({kind}): its payload is not JSON; the store was "
                           "changed outside Agentville or is damaged") from None
    if type(data) is not dict or not (wall is None or type(wall) is dict):
        what = "data" if type(data) is not dict else "wall"
        raise DamagedEvent(f"{path}: run {run_id}, event {seq} ({kind}): its {what} is a JSON "
                           f"{type(data if what == 'data' else wall).__name__}, not an object; the store was "
                           "changed outside Agentville or is damaged")
    return data, wall


def decode_all(path: str | Path, run_id: str, raw: Iterable[RawRow]) -> list[Any]:
    """Every row decoded at full speed (one comprehension), checked in a second pass; a bad row is then
    found again by ``decode`` to say which it is."""
    raw = list(raw)
    loads = orjson.loads
    try:
        rows = [(seq, t, kind, agent, loads(data), loads(wall) if wall else None)
                for seq, t, kind, agent, data, wall in raw]
    except (orjson.JSONDecodeError, TypeError):
        rows = []
    if len(rows) != len(raw) or any(type(r[4]) is not dict or not (r[5] is None or type(r[5]) is dict)
                                    for r in rows):
        for row in raw:
            decode(path, run_id, row)
    return rows


def run_settings(path: str | Path, run_id: str, text: Any) -> dict[str, Any]:
    """A run's stored settings (a JSON object), or a DamagedEvent naming the run."""
    try:
        settings = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError):
        settings = None
    if type(settings) is not dict:
        raise DamagedEvent(f"{path}: run {run_id}: its settings are not a JSON object; the store was changed "
                           "outside Agentville or is damaged")
    return settings
