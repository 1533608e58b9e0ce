"""The town at a simulated time: where each agent is, what it does, and where its marker goes on the map.

Where each agent is at t is one binary search per agent in the log's town
index (``sim.analysis.townstate``), whatever the log's size; the map's places
are the scenario's, or a circle when its file is gone.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from agentville.dashboard import layout
from agentville.dashboard.runlog import RunLog
from agentville.sim.core import events
from agentville.sim.core.location import place_of

EMOJI = [  # first matching keyword wins
    ("sleep", "😴"), ("talking", "💬"), ("coffee", "☕"), ("eat", "🍽️"), ("lunch", "🍽️"), ("dinner", "🍽️"),
    ("breakfast", "🍳"), ("cook", "🍳"), ("study", "📚"), ("read", "📖"), ("lecture", "🎓"), ("class", "🎓"),
    ("writ", "✍️"), ("paint", "🎨"), ("music", "🎵"), ("guitar", "🎸"), ("piano", "🎹"), ("shop", "🛒"),
    ("buy", "🛒"), ("walk", "🚶"), ("park", "🌳"), ("garden", "🌱"), ("work", "💼"), ("serv", "☕"),
    ("party", "🎉"), ("wait", "⏳"), ("shower", "🚿"), ("clean", "🧹"),
]


def emoji_for(activity: str) -> str:
    lowered = (activity or "").lower()
    return next((e for word, e in EMOJI if word in lowered), "🙂")


def agent_states(log: RunLog, t: float) -> pd.DataFrame:
    """Per agent at time t: place, area, activity, since when, and whether it is walking (and where to).

    Read from the log's town index (``sim.analysis.townstate``): one binary search per agent, whatever the log's size.
    """
    rows = []
    for name in dict.fromkeys(log.agents):
        state = log.town.state(name, t)
        row = {"agent": name, "place": state.place, "location": state.location, "activity": state.activity,
               "since": log.at(state.since) if state.since is not None else None, "emoji": emoji_for(state.activity),
               "walking_to": None, "progress": 0.0}
        if state.walk is not None:
            row.update(walking_to=state.walk.target, origin=state.walk.origin, progress=state.walk.progress(t),
                       emoji="🚶")
        rows.append(row)
    return pd.DataFrame(rows)


def place_layout(log: RunLog) -> pd.DataFrame:
    """Places with coordinates: the scenario's, or a circle when the scenario file is gone."""
    if log.scenario is not None:
        return pd.DataFrame([{"place": p.name, "kind": p.kind or "place", "x": p.xy[0], "y": p.xy[1]}
                             for p in log.scenario.places])
    names = sorted({place_of(str(d.get("location", ""))) for d in log.kind(*events.WHERE_LOCATED).data} - {""})
    return pd.DataFrame([{"place": n, "kind": "place", "x": 50 + 40 * math.cos(2 * math.pi * i / max(1, len(names))),
                          "y": 50 + 40 * math.sin(2 * math.pi * i / max(1, len(names)))}
                         for i, n in enumerate(names)], columns=["place", "kind", "x", "y"])


def path_segments(log: RunLog, places: pd.DataFrame) -> pd.DataFrame:
    if log.scenario is None:
        return pd.DataFrame(columns=["x", "y", "x2", "y2", "minutes"])
    xy = places.set_index("place")[["x", "y"]]
    rows = [{"x": xy.loc[a, "x"], "y": xy.loc[a, "y"], "x2": xy.loc[b, "x"], "y2": xy.loc[b, "y"],
             "minutes": p.minutes}
            for p in log.scenario.paths for a, b in [p.between] if a in xy.index and b in xy.index]
    return pd.DataFrame(rows, columns=["x", "y", "x2", "y2", "minutes"])


NAMED_PER_PLACE = 3  # more agents at one place than this: their names show on hover, the map says "+N more"
NAMED_WALKERS = 30  # in a bigger town walkers' names show on hover only
POSITION_COLUMNS = ["agent", "x", "y", "label", "activity", "location", "place", "tag", "side"]


def map_unit(places: pd.DataFrame) -> float:
    """A hundredth of the town's extent in the scenario's coordinates: markers keep their size whatever the scale."""
    if places.empty:
        return 1.0
    span = max(np.ptp(places["x"].to_numpy(dtype=float)), np.ptp(places["y"].to_numpy(dtype=float)))
    return float(span or 100.0) / 100


def agent_positions(states: pd.DataFrame, places: pd.DataFrame, partners: dict[str, str] | None = None
                    ) -> pd.DataFrame:
    """Marker positions: fanned out above their place, or part-way along a walk.

    Agents talking to each other (``partners``: agent -> partner) face each other across the fan. ``tag`` is
    the name written beside the marker, on its ``side``: empty in a crowd (more than ``NAMED_PER_PLACE`` at
    one place), where the names could not be read; ``label`` always has it (for the hover).
    """
    xy = places.set_index("place")[["x", "y"]]
    radius = 3.0 * map_unit(places)
    found: dict[str, dict[str, Any]] = {}
    staying: dict[str, list[Any]] = {}
    for row in states.itertuples():
        target = row.walking_to if isinstance(row.walking_to, str) else None
        if target and target in xy.index and getattr(row, "origin", None) in xy.index:
            (x0, y0), (x1, y1) = xy.loc[row.origin], xy.loc[target]
            found[row.agent] = _marker(row, x0 + (x1 - x0) * row.progress, y0 + (y1 - y0) * row.progress, "",
                                       len(states) <= NAMED_WALKERS)
        elif row.place in xy.index:
            staying.setdefault(row.place, []).append(row)
    for place, crowd in staying.items():
        rows = {row.agent: row for row in crowd}
        offsets = layout.fan(len(crowd), radius)
        for name, (dx, dy) in zip(layout.seats(list(rows), partners or {}), offsets):
            found[name] = _marker(rows[name], xy.loc[place, "x"] + dx, xy.loc[place, "y"] + dy, place,
                                  len(crowd) <= NAMED_PER_PLACE, left=dx < -1e-9)
    out = [found[name] for name in states["agent"] if name in found] if len(states) else []
    return pd.DataFrame(out, columns=POSITION_COLUMNS)


def _marker(row: Any, x: float, y: float, place: str, named: bool, left: bool = False) -> dict:
    label = f"{row.emoji} {row.agent}"
    walking = f"walking to {row.walking_to}" if isinstance(row.walking_to, str) else ""
    return {"agent": row.agent, "x": float(x), "y": float(y), "label": label, "activity": row.activity,
            "location": row.location or walking, "place": place, "tag": label if named else "",
            "side": "left" if left else "right"}
