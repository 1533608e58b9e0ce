"""The engine's work per event does not grow with the town: nothing an agent does per event reads the whole town.

Wall time is too noisy for a test; the number of Python function calls per
logged event is not (the fake backend is deterministic), and it is what a
scan of the town's places, residents or rows would inflate: each place name
compared, each resident looked at, is a call or more. ``bench/engine.py``
measures the time.
"""

from __future__ import annotations

import cProfile
import datetime as dt
import pstats

import pytest

from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import load_scenario
from agentville.sim.scenario.growing import grown
from agentville.sim.store.eventstore import EventStore
from tests.conftest import WORLDS


def calls_per_event(tmp_path, residents: int, hours: float) -> float:
    scenario = grown(load_scenario(WORLDS / "smallville.yaml"), residents)
    with EventStore(tmp_path / f"town{residents}.db") as store:
        sim = assemble(scenario, store=store, backend=FakeBackend(), cache_mode="off")
        profile = cProfile.Profile()
        profile.enable()
        summary = sim.run(scenario.start + dt.timedelta(hours=hours))
        profile.disable()
    calls = sum(primitive for primitive, *_ in pstats.Stats(profile).stats.values())  # type: ignore[attr-defined]
    return calls / summary.events


@pytest.mark.slow
def test_the_work_per_event_is_the_same_in_a_town_four_times_larger(tmp_path):
    small, large = calls_per_event(tmp_path, 50, 3), calls_per_event(tmp_path, 200, 3)
    assert large <= 1.1 * small, (small, large)
