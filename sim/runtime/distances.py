"""The walks the out-of-order scheduler reasons about: only those short enough to matter, kept sparse.

No area runs more than ``MAX_AHEAD_S`` ahead of the slowest one, and nobody
leaves anywhere before the slowest area's first event, so a walk longer than
that can never set a horizon lower than the cap does. Walking times are
therefore searched only up to that cutoff, and kept per place as its
neighbourhood: a town of 10,000 residents has 6,400 places, whose all pairs
would be 41 million numbers and minutes of search; the places within two
hours' walk of each are a few hundred.
"""

from __future__ import annotations

import networkx as nx
import numpy as np

from agentville.sim.world.geography import AREA_CHANGE_MINUTES, World

Area = tuple[str, str]


class Distances:
    """Seconds of walking between places, within ``cutoff_s``; ``inf`` beyond it (as good as, for horizons)."""

    def __init__(self, world: World, cutoff_s: float):
        self.places = list(world.places)
        self.index = {p: i for i, p in enumerate(self.places)}
        self.near: list[dict[int, float]] = []  # each place's other places within the cutoff, and the seconds
        for place in self.places:
            reach = nx.single_source_dijkstra_path_length(world.graph, place, cutoff=cutoff_s / 60, weight="minutes")
            self.near.append({self.index[p]: m * 60 for p, m in reach.items() if p != place})
        nearest = np.array([min(near.values(), default=np.inf) for near in self.near])
        # two areas of one place are at least one area change apart (or a round trip to the nearest place)
        self.within = np.minimum(AREA_CHANGE_MINUTES * 60, 2 * nearest)
        several = np.array([len(world.places[p].areas) > 1 for p in self.places])
        self.roundtrip = 2 * np.minimum(np.where(several, self.within, np.inf), nearest)

    def between(self, a: Area, b: Area) -> float:
        if a == b:
            return 0.0
        i, j = self.index[a[0]], self.index[b[0]]
        return float(self.within[i]) if i == j else self.near[i].get(j, np.inf)

    def among(self, areas: list[Area]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The walks between the given areas as edges (from, to, seconds), and each area's round trip."""
        at = [self.index[a[0]] for a in areas]
        by_place: dict[int, list[int]] = {}
        for k, place in enumerate(at):
            by_place.setdefault(place, []).append(k)
        edges: list[tuple[int, int, float]] = []
        for k, place in enumerate(at):
            edges += [(k, other, float(self.within[place])) for other in by_place[place] if other != k]
            for near_place, s in self.near[place].items():
                edges += [(k, other, s) for other in by_place.get(near_place, ())]
        src, dst, seconds = (np.array(column) for column in zip(*edges)) if edges else ([], [], [])
        return (np.asarray(src, dtype=int), np.asarray(dst, dtype=int), np.asarray(seconds, dtype=float),
                self.roundtrip[np.array(at, dtype=int)])
