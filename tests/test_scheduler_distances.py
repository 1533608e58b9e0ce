"""The scheduler's walking distances, kept only within its cutoff, give the horizons all pairs gave."""

from __future__ import annotations

import datetime as dt

import networkx as nx
import numpy as np
import pytest

from agentville.sim.generation import FakeBackend
from agentville.sim.runtime import scheduler
from agentville.sim.runtime.distances import Distances
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.scenario.growing import grown
from agentville.sim.store.eventstore import EventStore
from agentville.sim.world.geography import AREA_CHANGE_MINUTES, World
from tests.conftest import WORLDS


@pytest.fixture(scope="module")
def town():
    return grown(load_scenario(WORLDS / "smallville.yaml"), 100)  # 4 copies: about 105 minutes end to end


def all_pairs(world: World):
    """Every pair of places, as the scheduler held them before: seconds, inf on the diagonal."""
    places = list(world.places)
    index = {p: i for i, p in enumerate(places)}
    seconds = np.full((len(places), len(places)), np.inf)
    for a, lengths in nx.all_pairs_dijkstra_path_length(world.graph, weight="minutes"):
        for b, minutes in lengths.items():
            seconds[index[a], index[b]] = minutes * 60
    np.fill_diagonal(seconds, np.inf)
    nearest = seconds.min(axis=1)
    within = np.minimum(AREA_CHANGE_MINUTES * 60, 2 * nearest)
    several = np.array([len(world.places[p].areas) > 1 for p in places])
    return index, seconds, within, 2 * np.minimum(np.where(several, within, np.inf), nearest)


def test_walks_within_the_cutoff_are_the_shortest_and_longer_ones_are_left_out(town):
    world = World(town)
    index, seconds, within, _ = all_pairs(world)
    near = Distances(world, cutoff_s=3600)
    assert np.array_equal(near.within, within)
    areas = [(p.name, a.name) for p in town.places for a in p.areas]
    kept = left_out = 0
    for a in areas[::7]:
        for b in areas[::5]:
            full = 0.0 if a == b else within[index[a[0]]] if a[0] == b[0] else seconds[index[a[0]], index[b[0]]]
            if full <= 3600:
                assert near.between(a, b) == full
                kept += 1
            else:
                assert near.between(a, b) == np.inf
                left_out += 1
    assert kept > 100 and left_out > 100


def test_horizons_from_the_neighbourhoods_are_those_from_all_pairs(town, tmp_path, monkeypatch):
    """Over two busy hours out of order, every area's horizon (under the cap on running ahead) is the same."""
    monkeypatch.setattr(scheduler, "MAX_AHEAD_S", 1800.0)  # a cutoff of an hour: shorter than the town
    compared, computed = [0], scheduler.Scheduler._horizons

    def both(self, groups, solos):
        sparse = computed(self, groups, solos)
        index, seconds, within, roundtrip = self.all_pairs

        def among(areas):
            at = np.array([index[a[0]] for a in areas], dtype=int)
            full = np.where(at[:, None] == at[None, :], within[at][:, None], seconds[np.ix_(at, at)])
            np.fill_diagonal(full, np.inf)
            src, dst = np.nonzero(np.isfinite(full))
            return src, dst, full[src, dst], roundtrip[at]

        self.distances.among = among  # for this one call: every pair, as before
        try:
            dense = computed(self, groups, solos)
        finally:
            del self.distances.among
        cap = min(first for first, _ in groups.values()) + scheduler.MAX_AHEAD_S
        assert {a: min(h, cap) for a, h in sparse.items()} == {a: min(h, cap) for a, h in dense.items()}
        compared[0] += len(sparse)
        return sparse

    monkeypatch.setattr(scheduler.Scheduler, "_horizons", both)
    with EventStore(tmp_path / "run.db") as store:
        sim = assemble(town, store=store, backend=FakeBackend(), cache_mode="off", scheduling="out-of-order")
        sim.scheduler.all_pairs = all_pairs(sim.world)
        sim.run(town.start + dt.timedelta(hours=2))
    assert compared[0] > 1000
