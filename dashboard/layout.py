"""Where markers go around a point: pure geometry shared by the town map and the relationship graph.

Offsets are in the caller's units and y grows downwards (as on the map), so
"above" is a negative y.
"""

from __future__ import annotations

import math

ARC_SLOTS = 6  # up to this many agents at a place sit on one arc; more fill a half-disc
GOLDEN_ANGLE = math.pi * (3 - math.sqrt(5))


def fan(n: int, radius: float) -> list[tuple[float, float]]:
    """``n`` offsets above a point, away from the name written below it.

    A few sit evenly on an arc from left to right (slots i and n - 1 - i face
    each other across it: the town map seats people talking to each other
    there, so the lines between them are long, level and do not cross); a crowd fills the half-disc above,
    spiralling outwards (a sunflower), so that markers never sit on each other.
    """
    if n == 1:
        return [(0.0, -radius)]
    if n <= ARC_SLOTS:
        radius *= max(1.0, (n - 1) / 2.5)  # room for each marker along the arc
        return [(radius * math.cos(math.pi * i / (n - 1) + math.pi), radius * math.sin(math.pi * i / (n - 1) + math.pi))
                for i in range(n)]
    out = []
    for k in range(n):
        angle = math.pi + (k * GOLDEN_ANGLE) % math.pi  # between left (pi) and right (2 pi), through the top
        spread = radius * (1 + 0.75 * math.sqrt(k))
        out.append((spread * math.cos(angle), spread * math.sin(angle)))
    return out


def seats(agents: list[str], partners: dict[str, str]) -> list[str]:
    """``agents`` in fan order: each pair talking to each other in slots i and n - 1 - i, the others between."""
    n, half = len(agents), len(agents) // 2
    pairs = []
    for agent in agents:
        partner = partners.get(agent)
        if partner in agents and partner != agent and agent < partner and partners.get(partner) == agent:
            pairs.append((agent, partner))
    pairs = pairs[:half]
    slots: list[str | None] = [None] * n
    for i, (a, b) in enumerate(pairs):
        slots[i], slots[n - 1 - i] = a, b
    paired = {name for pair in pairs for name in pair}
    rest = iter(a for a in agents if a not in paired)
    return [slot if slot is not None else next(rest) for slot in slots]


def circle(n: int, spacing: float, aspect: float = 1.8) -> list[tuple[float, float]]:
    """``n`` points evenly on an ellipse ``aspect`` times wider than high (a screen's shape: names are wide),
    clockwise from the top, about ``spacing`` apart along it; y grows upwards (as in Graphviz)."""
    radius = max(2.0, n * spacing / (2 * math.pi))
    wide, high = radius * math.sqrt(aspect), radius / math.sqrt(aspect)
    return [(wide * math.sin(2 * math.pi * i / n), high * math.cos(2 * math.pi * i / n)) for i in range(n)]
