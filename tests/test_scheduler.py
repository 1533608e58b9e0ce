"""Out of order, the log stays exact: the same rows as in order, whatever the answers' latencies."""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import json
import random
import textwrap
import time
from pathlib import Path

import pytest

from agentville.sim.core import events
from agentville.sim.core.kernel import Kernel
from agentville.sim.core.location import area_owners
from agentville.sim.generation import Completion, FakeBackend, Request
from agentville.sim.runtime.runner import assemble
from agentville.sim.scenario import PersonaSpec, Scenario, load_scenario
from agentville.sim.store.eventstore import EventStore
from agentville.sim.world.geography import World
from agentville.sim.world.town import BrokenPromise, Town

from .conftest import TINY, WORLDS

# Ann and Bob live 80 minutes apart and both go to the market at 9; Cleo works on a farm two hours
# away and hears an inner voice at 10.
LONG_ROAD = textwrap.dedent("""\
    name: Long road
    start: 2023-02-13T07:00
    seed: 5
    places:
      - name: West House
        xy: [0, 0]
        areas: [{name: room, objects: [bed, desk]}]
      - name: East House
        xy: [100, 0]
        areas: [{name: room, objects: [bed, desk]}]
      - name: Market
        xy: [50, 0]
        areas: [{name: square, objects: [stall, bench]}]
      - name: Far Farm
        xy: [50, 100]
        areas: [{name: barn, objects: [hay, bed]}]
    paths:
      - {between: [West House, Market], minutes: 40}
      - {between: [Market, East House], minutes: 40}
      - {between: [Market, Far Farm], minutes: 120}
    personas:
      - name: Ann
        age: 30
        traits: cheerful, talkative
        home: "West House: room"
        memories: Ann sells apples at the market; Bob is Ann's old friend
        routine:
          - {at: "07:00", activity: having breakfast, place: "home"}
          - {at: "08:20", activity: selling apples, place: "Market: square: stall"}
          - {at: "11:00", activity: reading, place: "West House: room: desk"}
          - {at: "22:00", activity: sleeping, place: "West House: room: bed"}
      - name: Bob
        age: 35
        traits: friendly
        home: "East House: room"
        memories: Bob buys apples at the market; Ann is Bob's old friend
        routine:
          - {at: "07:00", activity: having breakfast, place: "home"}
          - {at: "08:20", activity: shopping for apples, place: "Market: square: bench"}
          - {at: "11:00", activity: writing letters, place: "East House: room: desk"}
          - {at: "22:00", activity: sleeping, place: "East House: room: bed"}
      - name: Cleo
        age: 50
        traits: calm
        home: "Far Farm: barn"
        memories: Cleo keeps goats
        routine:
          - {at: "07:00", activity: feeding the goats, place: "Far Farm: barn: hay"}
          - {at: "22:00", activity: sleeping, place: "Far Farm: barn: bed"}
    interventions:
      - at: 2023-02-13T10:00
        agent: Cleo
        text: I should take the goats to the market next week.
    """)


class JitteryBackend:
    """The fake backend's answers after a random delay each (seeded), from a pool of threads."""

    model_id = FakeBackend.model_id
    traits = dataclasses.replace(FakeBackend.traits, instant=False)  # the fake's answers and embedder, delayed

    def __init__(self, seed: int, max_s: float = 0.003):
        self.fake, self.rng, self.max_s = FakeBackend(), random.Random(seed), max_s
        self.pool = concurrent.futures.ThreadPoolExecutor(16)

    def submit(self, request: Request) -> concurrent.futures.Future[Completion]:
        delay, answer = self.rng.uniform(0, self.max_s), self.fake.answer(request)
        return self.pool.submit(lambda: (time.sleep(delay), answer)[1])

    def close(self) -> None:
        self.pool.shutdown()


def long_road(tmp_path: Path) -> Scenario:
    path = tmp_path / "long_road.yaml"
    path.write_text(LONG_ROAD)
    return load_scenario(path)


def logged(scenario: Scenario, hours: float, db: Path, scheduling: str, backend) -> tuple[list, list[dict]]:
    """The (seq, sim_time, kind, agent, data) rows of a run, and the wall facts of its model calls."""
    with EventStore(db) as store:
        sim = assemble(scenario, store=store, backend=backend, cache_mode="off", scheduling=scheduling)
        summary = sim.run(scenario.start + dt.timedelta(hours=hours))
        rows = store.db.execute("SELECT seq, sim_time, kind, agent, data FROM events WHERE run_id = ? ORDER BY seq",
                                (summary.run_id,)).fetchall()
        walls = [json.loads(w) for (w,) in store.db.execute(
            "SELECT wall FROM events WHERE run_id = ? AND kind = 'llm_call' ORDER BY seq", (summary.run_id,))]
    return rows, walls


def in_and_out_of_order(scenario: Scenario, hours: float, tmp_path: Path, seed: int = 1) -> tuple[list, list[dict]]:
    """Run in order (instant answers) and out of order (jittery answers); assert the logs are equal."""
    expected, _ = logged(scenario, hours, tmp_path / "in.db", "in-order", FakeBackend())
    backend = JitteryBackend(seed)
    try:
        rows, walls = logged(scenario, hours, tmp_path / "out.db", "out-of-order", backend)
    finally:
        backend.close()
    assert len(rows) == len(expected)
    first = next((i for i, (a, b) in enumerate(zip(rows, expected)) if a != b), None)
    assert first is None, f"row {first}: out of order {rows[first]} != in order {expected[first]}"
    return rows, walls


def test_the_ville_day_logs_the_same_rows_in_and_out_of_order(tmp_path):
    scenario = load_scenario(WORLDS / "the_ville_3.yaml")
    rows, walls = in_and_out_of_order(scenario, 30, tmp_path)
    assert len(rows) > 1000
    assert max(w["ahead_s"] for w in walls) > 600  # some area really ran more than 10 minutes ahead


def test_smallville_morning_logs_the_same_rows_in_and_out_of_order(tmp_path):
    scenario = load_scenario(WORLDS / "smallville.yaml")
    rows, walls = in_and_out_of_order(scenario, 5, tmp_path, seed=2)
    kinds = {kind for _, _, kind, _, _ in rows}
    assert {events.CONVERSATION_START, events.UTTERANCE, events.REACTION, events.MOVE} <= kinds
    assert sum(w["ahead_s"] > 0 for w in walls) > len(walls) // 4


def test_two_walking_towards_each_other_merge_into_one_cluster(tmp_path):
    scenario = long_road(tmp_path)
    rows, walls = in_and_out_of_order(scenario, 6, tmp_path)
    arrived = {(agent, json.loads(data)["location"].split(":")[0]): t for _, t, kind, agent, data in rows
               if kind == events.ARRIVED}
    assert ("Ann", "Market") in arrived and ("Bob", "Market") in arrived
    # Both were at the market together: each arrived before the other's 11:00 walk home.
    leave = 4 * 3600
    assert arrived["Ann", "Market"] < leave and arrived["Bob", "Market"] < leave
    assert max(w["ahead_s"] for w in walls) > 0


def test_a_whisper_to_a_far_cluster_lands_at_its_time(tmp_path):
    scenario = long_road(tmp_path)
    rows, _ = in_and_out_of_order(scenario, 6, tmp_path, seed=3)
    whispers = [(t, agent) for _, t, kind, agent, _ in rows if kind == events.INTERVENTION]
    assert whispers == [(3 * 3600, "Cleo")]
    thought = [json.loads(data) for _, t, kind, agent, data in rows
               if kind == events.MEMORY and agent == "Cleo" and "goats to the market" in data]
    assert thought and thought[0]["kind"] == "thought"


def test_stages_and_whispers_between_them_are_exact_out_of_order(tmp_path):
    """advance() in stages, with the experimenter whispering and adding someone at a stop, logs what in order logs."""
    scenario = long_road(tmp_path)

    def staged(db: Path, scheduling: str, backend) -> list:
        with EventStore(db) as store:
            sim = assemble(scenario, store=store, backend=backend, cache_mode="off", scheduling=scheduling)
            sim.start()
            sim.advance(scenario.start + dt.timedelta(hours=2, minutes=10))
            sim.whisper("Bob", "I want to tell Ann about my new bicycle.")
            sim.add_agent(PersonaSpec(name="Dora", age=40, traits="curious", home="Market: square",
                                      routine=[{"at": "09:00", "activity": "selling bread", "place": "Market: square"}]))
            sim.advance(scenario.start + dt.timedelta(hours=5))
            run_id = sim.finish().run_id
            return store.db.execute("SELECT seq, sim_time, kind, agent, data FROM events WHERE run_id = ? "
                                    "ORDER BY seq", (run_id,)).fetchall()

    backend = JitteryBackend(4)
    try:
        assert staged(tmp_path / "out.db", "out-of-order", backend) == staged(tmp_path / "in.db", "in-order",
                                                                             FakeBackend())
    finally:
        backend.close()


def test_the_kernel_orders_ties_by_owner_not_by_who_was_scheduled_first():
    def order(first: str, second: str) -> list[str]:
        kernel = Kernel()
        kernel.register("Ann")
        kernel.register("Bob")
        seen: list[str] = []

        def wake(name: str):
            yield kernel.timeout(5)
            seen.append(name)

        for name in (first, second):
            kernel.process(wake(name), owner=name)
        kernel.run_until(10)
        return seen

    assert order("Ann", "Bob") == order("Bob", "Ann") == ["Ann", "Bob"]


def test_an_event_scheduled_before_the_current_key_sorts_right_after_it():
    kernel = Kernel()
    kernel.register("Ann")
    kernel.register("Bob")
    seen: list[str] = []

    def bob():
        yield kernel.timeout(5)
        seen.append("Bob")

    def ann():
        yield kernel.timeout(5)
        seen.append("Ann starts Cleo")
        kernel.process(cleo(), owner="Bob")  # scheduled at 5 with an urgent priority: below Ann's key

    def cleo():
        seen.append("Cleo")
        yield kernel.timeout(0)

    kernel.process(bob(), owner="Bob")
    kernel.process(ann(), owner="Ann")
    kernel.run_until(10)
    assert seen == ["Ann starts Cleo", "Cleo", "Bob"]


def walk_in_a_bare_town(scenario: Scenario, who: str, start: str, target: str, promise: float | None = None) -> None:
    """Place ``who`` at ``start`` and walk it to ``target`` in a town with no agents and no log."""
    world, kernel = World(scenario), Kernel()
    town = Town(world, kernel, lambda *a, **k: None, alone_until=None if promise is None else lambda name: promise)
    town.place(who, world.resolve(start))

    def walk():
        yield from town.walk(who, world.resolve(target))

    kernel.process(walk(), owner=who)
    kernel.run_until(600)


def test_walking_away_before_a_promise_is_a_clear_error(tmp_path):
    with pytest.raises(BrokenPromise, match="Ann walked away at 0 s although it said it would stay until 600 s"):
        walk_in_a_bare_town(long_road(tmp_path), "Ann", "West House: room", "Market: square", promise=600.0)


def test_a_run_interrupted_out_of_order_keeps_a_prefix_and_resumes_exactly(tmp_path):
    """Stopped midway, areas that ran ahead drop their rows; the resumed run ends as an uninterrupted one."""
    scenario = load_scenario(WORLDS / "smallville.yaml")
    until = scenario.start + dt.timedelta(hours=3)
    expected, _ = logged(scenario, 3, tmp_path / "in.db", "in-order", FakeBackend())
    db = tmp_path / "out.db"
    reports = []

    def interrupt(reached: float, end: float) -> None:
        reports.append(reached)
        if len(reports) == 3:
            raise KeyboardInterrupt

    backend = JitteryBackend(5)
    try:
        with EventStore(db) as store:
            sim = assemble(scenario, store=store, backend=backend, scheduling="out-of-order")
            with pytest.raises(KeyboardInterrupt):
                sim.run(until, progress=interrupt)
            run_id = sim.run_id
            stored = store.db.execute("SELECT seq, sim_time, kind, agent, data FROM events WHERE run_id = ? "
                                      "ORDER BY seq", (run_id,)).fetchall()
            assert 0 < len(stored) < len(expected) and stored == expected[:len(stored)]
            sim = assemble(scenario, store=store, backend=backend, scheduling="out-of-order")
            sim.run(until, resume=run_id)
            rows = store.db.execute("SELECT seq, sim_time, kind, agent, data FROM events WHERE run_id = ? "
                                    "ORDER BY seq", (run_id,)).fetchall()
    finally:
        backend.close()
    assert rows == expected


def test_a_shared_bedroom_belongs_to_everyone_it_is_named_after():
    """It used to belong only to the last name in it: Mei Lin could not go to her own bedroom."""
    world = World(load_scenario(WORLDS / "smallville.yaml"))
    assert world.private_areas["Lin family's house", "Mei and John Lin's bedroom"] == {"Mei Lin", "John Lin"}
    assert area_owners("Maria Lopez's room", ["Maria Lopez", "Klaus Mueller"]) == {"Maria Lopez"}
    assert area_owners("common room", ["Maria Lopez"]) == set()
    assert area_owners("Sam and Jennifer Moore #2's bedroom", ["Sam Moore #2", "Jennifer Moore #2", "Sam Moore"]) \
        == {"Sam Moore #2", "Jennifer Moore #2"}  # bench/engine.py's grown towns name copies like this


def test_walking_into_someone_elses_room_is_a_clear_error(tmp_path):
    path = tmp_path / "rooms.yaml"
    path.write_text(TINY.replace("objects: [stove]", "objects: [stove]\n      - name: Ann's study"))
    with pytest.raises(BrokenPromise, match="Bob walked into Home: Ann's study, which is private to Ann"):
        walk_in_a_bare_town(load_scenario(path), "Bob", "Home: kitchen", "Home: Ann's study")


def test_a_grown_town_lives_a_whole_day_out_of_order(tmp_path):
    """bench/engine.py's grown towns are built in code, never validated: their copies' rooms must still work."""
    import sys

    sys.path.insert(0, str(WORLDS.parent / "bench"))
    try:
        from engine import grown  # type: ignore[import-not-found]
    finally:
        sys.path.pop(0)
    town = grown(load_scenario(WORLDS / "smallville.yaml"), 50)
    rows, _ = logged(town, 24, tmp_path / "grown.db", "out-of-order", FakeBackend())
    assert sum(kind == events.ARRIVED for _, _, kind, _, _ in rows) > 300
