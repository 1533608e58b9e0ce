"""Agents remember their persona, what they see where they arrive, and what they are whispered."""

from __future__ import annotations

import datetime as dt

from agentville.sim.generation import FakeBackend
from agentville.sim.runtime.runner import assemble
from agentville.sim.store.eventstore import EventStore

from .scripted import ScriptedBackend


def memories(tiny, tmp_path, hours=12, backend=None):
    store = EventStore(tmp_path / "m.db")
    sim = assemble(tiny, store=store, backend=backend or FakeBackend())
    summary = sim.run(tiny.start + dt.timedelta(hours=hours))
    return sim, list(store.iter_events(summary.run_id, kinds=["memory"]))


def test_seed_memories_perceptions_and_whispers_become_memories(tiny, tmp_path):
    sim, events = memories(tiny, tmp_path, backend=ScriptedBackend({"location_place": "Cafe"}))
    ann = [e.data for e in events if e.agent == "Ann"]
    bob = [e.data for e in events if e.agent == "Bob"]
    assert [m["text"] for m in ann[:2]] == ["Ann runs the cafe", "Ann likes the park"]  # seed memories first
    assert all(1 <= m["importance"] <= 10 for m in ann + bob)
    # Bob spends the day at the cafe, where Ann is at the counter
    activities = {m["text"].removeprefix("Ann is ") for m in bob if m["subject"] == "Ann"}
    ann_did = {a.data["activity"] for a in sim.store.iter_events(sim.run_id, kinds=["action"], agent="Ann")}
    assert activities and activities <= ann_did
    assert any(m["kind"] == "thought" and "ask Ann about the party" in m["text"] for m in bob)
    assert len(sim.agents["Bob"].memory) == len(bob)  # the log and the stream agree
    # nobody perceives the object it is using itself; what it remembers of itself is its own action
    assert not any(m["subject"] and m["subject"] != "Bob" and "Bob" in m["text"] for m in bob)
    assert any(m["subject"] == "Bob" and m["text"] == "Bob is reading at Cafe" for m in bob)


def test_the_same_sight_is_not_perceived_twice(tiny, tmp_path):
    _, events = memories(tiny, tmp_path, hours=24)
    for agent in ("Ann", "Bob"):
        sights = [(e.data["subject"], e.data["text"]) for e in events if e.agent == agent and e.data["subject"]]
        consecutive = [a for a, b in zip(sights, sights[1:]) if a == b]
        assert not consecutive, consecutive


def test_attention_bandwidth_limits_what_is_noticed(tmp_path):
    from agentville.agents.perception import Perception
    from agentville.sim.scenario import load_scenario
    from agentville.sim.world.geography import Location

    from .conftest import WORLDS

    scenario = load_scenario(WORLDS / "smallville.yaml")
    sim = assemble(scenario, store=EventStore(tmp_path / "s.db"), backend=FakeBackend())
    cafe = Location("Hobbs Cafe", "cafe")
    sim.start()
    for name in list(sim.agents)[3:9]:  # six people other than Klaus
        sim.town.place(name, cafe)
        sim.town.start_action(name, "drinking coffee", f"{name} is drinking coffee")
    eyes = Perception("Klaus Mueller", bandwidth=3)
    first = eyes.notice(sim, cafe)
    assert len(first) == 3
    second = eyes.notice(sim, cafe)
    assert len(second) == 3 and not set(first) & set(second)  # the next things, not the same ones again
